import { createHash } from 'node:crypto';
import { REDACTED, withoutCredentials } from '../../../backend/redact.js';
import { ConfigError } from '../../../iface/errors.js';
import { missingPeer } from '../../../internal/peers.js';
import { describeValue } from '../../../internal/validate.js';
import { explainRefusal } from './requirements.js';

/**
 * What the store needs of a connection; ioredis `Redis` and `Cluster` clients fit. Declared
 * here rather than imported so that ioredis stays an optional dependency, types included.
 */
export interface RedisConnection {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  duplicate(): RedisConnection;
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** Thrown when Redis does not answer in time or the connection is down. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * Resolves the `redis` option: a client (used as given, never closed by the store) or a URL
 * (ioredis is imported only then, and the store owns and closes the client).
 */
export function connect(redis: unknown): { client: Promise<RedisConnection>; owned: boolean } {
  if (typeof redis === 'string' && isRedisAddress(redis)) {
    const url = redis;
    return {
      owned: true,
      client: loadIoredis().then(
        (RedisClient) => new RedisClient(url, { lazyConnect: false, reconnectOnError: onReadOnly }),
      ),
    };
  }
  if (
    redis !== null &&
    typeof redis === 'object' &&
    typeof (redis as RedisConnection).evalsha === 'function'
  ) {
    return { owned: false, client: Promise.resolve(redis as RedisConnection) };
  }
  // A URL may carry the password.
  const shown = typeof redis === 'string' ? withoutCredentials(redis) : redis;
  throw new ConfigError(
    'redis',
    `must be an ioredis client, a Cluster client or a redis:// URL, got ${describeValue(shown)}`,
  );
}

/**
 * A connection answered READONLY reached a replica: after a failover, the old primary behind an
 * address that now leads to the new one. ioredis keeps a working connection forever; a new one
 * reaches the primary. The failed command is not sent again (scripts keep their order).
 */
function onReadOnly(error: Error): boolean {
  return READ_ONLY.test(error.message);
}

/**
 * Matches an error reply whose code is one of `codes` (`READONLY You can't write...`), also as
 * Redis before 7 wraps an error that a call inside a script got:
 * `ERR Error running script (call to f_...): @user_script:2: -READONLY You can't write...`.
 */
function replyCode(codes: string): RegExp {
  return new RegExp(`^(?:${codes}) |^ERR Error running script .*?: -(?:${codes}) `);
}

const READ_ONLY = replyCode('READONLY');

/**
 * Redis's refusals of a write while it still answers: out of memory under `maxmemory` (OOM), a
 * replica (READONLY), unable to persist (MISCONF), fewer replicas than `min-replicas-to-write`
 * (NOREPLICAS).
 */
const WRITE_REFUSED = replyCode('OOM|READONLY|MISCONF|NOREPLICAS');

/** Whether a call failed (as `withDeadline` rejects) because Redis refused to write. */
export function isWriteRefusal(error: unknown): boolean {
  const reply = error instanceof RedisUnavailableError ? error.cause : undefined;
  return reply instanceof Error && WRITE_REFUSED.test(reply.message);
}

/** ioredis, an optional peer: without it, a `MissingPeerError` that says to install it. */
export async function loadIoredis() {
  return (await import('ioredis').catch(missingPeer('redisStore', ['ioredis']))).Redis;
}

/**
 * Whether ioredis should be given `url`: not blank (ioredis would quietly connect to
 * localhost:6379), with no scheme but redis:// or rediss:// (ioredis would read any other as a
 * Unix socket path), one ioredis can parse (it would fail at its first connection, with an
 * error that quotes the URL, password included), and whose database, as a path or a `db`
 * parameter, is a number (ioredis would send `SELECT NaN` before every command, failing each
 * without a handler).
 */
export function isRedisAddress(url: string): boolean {
  if (url.trim() === '') return false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'redis' && scheme !== 'rediss') return false;
  // Without a scheme, ioredis reads a socket path, or [//]host:port.
  const socket = scheme === undefined && url.startsWith('/') && !url.startsWith('//');
  const address =
    scheme !== undefined
      ? url
      : socket
        ? `redis://localhost${url}`
        : `redis://${url.replace(/^\/\//, '')}`;
  if (!URL.canParse(address)) return false;
  const { pathname, searchParams } = new URL(address);
  // After host:port, ioredis reads a path as a Unix socket and ignores host and port
  // (`cache:6379/2`, `redis:/cache:6379`); after redis://host:port or //host:port, as the
  // database.
  const hostAndPort = scheme === undefined && !socket && !url.startsWith('//');
  const path = socket || (hostAndPort ? /^\/?$/ : /^(\/\d*)?$/).test(pathname);
  return path && searchParams.getAll('db').every((db) => /^\d+$/.test(db));
}

/** A Lua script run by SHA, loaded on first use (and again after a restart wiped the cache). */
export class LuaScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Sends the whole script (EVAL): it cannot fail with NOSCRIPT and be retried later, so it
   * reaches Redis in the order it was issued relative to other commands.
   */
  runInOrder(
    client: RedisConnection,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return client.eval(this.#source, keys.length, ...keys, ...args);
  }

  /**
   * Runs the script by SHA, and sends it whole on a NOSCRIPT answer received before
   * `resendBefore` (a `performance.now()` reading). Later, its caller has given up and may have
   * sent what undoes the call (a withdrawn acquire's release): a script sent after that would
   * run after it and take a slot nobody holds.
   */
  async run(
    client: RedisConnection,
    keys: readonly string[],
    args: readonly (string | number)[],
    resendBefore = Number.POSITIVE_INFINITY,
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      if (performance.now() >= resendBefore) throw error;
      return client.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}

/** Commands whose arguments are credentials. */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello']);

/**
 * `error` with the arguments of the command it quotes blanked when they are credentials:
 * ioredis puts the failed command on its errors (`command: { name: 'auth', args: [password] }`),
 * so a wrong password would be printed wherever the error is logged.
 */
export function withoutCredentialArgs<T>(error: T): T {
  const command = (error as { command?: { name?: unknown; args?: unknown } } | null)?.command;
  if (typeof command?.name === 'string' && CREDENTIAL_COMMANDS.has(command.name.toLowerCase())) {
    command.args = [REDACTED];
  }
  return error;
}

/**
 * Rejects with RedisUnavailableError when `operation` has not settled within `ms`. The deadline
 * gives way to a reply already received: after this process was stalled (a long task, a GC
 * pause), timers run before sockets are read, so the deadline is acted on one step later, once
 * what arrived meanwhile has been read (a stalled process is not an absent Redis).
 */
export function withDeadline<T>(operation: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const expire = (): void =>
      reject(new RedisUnavailableError(`redis did not answer ${what} within ${ms} ms`));
    const timer = setTimeout(() => setImmediate(expire), ms);
    timer.unref();
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(redisFailure(what, error));
      },
    );
  });
}

/**
 * A failure of Redis to do `what`, as the store reports it: the rules the store needs when the
 * user's ACL refused it, no credentials quoted.
 */
export function redisFailure(what: string, error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return new RedisUnavailableError(`redis ${what} failed: ${explainRefusal(error.message)}`, {
    cause: withoutCredentialArgs(error),
  });
}

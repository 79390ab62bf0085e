import { randomBytes, randomUUID } from 'node:crypto';
import { PeriodicTask } from '../../../backend/periodic-task.js';
import { TypedEmitter } from '../../../internal/emitter.js';
import { printableField } from '../../../internal/validate.js';
import type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  ClaimResult,
  Lease,
  Refusal,
  StoreUsage,
} from '../capacity-store.js';
import { MemoryCapacityStore } from '../memory-store.js';
import { Batcher } from './batcher.js';
import { type LimiterKeys, limiterKeys } from './keys.js';
import {
  type RedisStoreOptions,
  type ResolvedRedisOptions,
  resolveRedisOptions,
} from './options.js';
import {
  connect,
  LuaScript,
  type RedisConnection,
  RedisUnavailableError,
  withDeadline,
} from './redis-client.js';
import { BATCH, BIND_SESSION, CLAIM, RENEW, USAGE } from './scripts.js';
import { Wakeups } from './wakeups.js';

/** A release or an acquire waiting for this turn's batch. */
type LeaseOp = { readonly release: RedisLease } | { readonly acquire: RedisLease };

/**
 * Calls per script at most. Small batches keep each script short (a script blocks Redis while
 * it runs) and let a busy turn go out as several scripts, so that Redis runs one while this
 * process handles the reply to the one before: 25 measured best between 10 and 200.
 */
const BATCH_MAX = 25;

const GLOBAL_FULL: Refusal = Object.freeze({ refused: 'capacity' });
const TENANT_FULL: Refusal = Object.freeze({ refused: 'tenant_capacity' });

const SCRIPTS = {
  batch: new LuaScript(BATCH),
  renew: new LuaScript(RENEW),
  claim: new LuaScript(CLAIM),
  bindSession: new LuaScript(BIND_SESSION),
  usage: new LuaScript(USAGE),
};

/** A lease this process holds, with what it needs to renew or re-assert it. */
class RedisLease implements Lease {
  readonly id: string;
  readonly tenantId: string;
  readonly globalLimit: number;
  readonly tenantLimit: number;
  /** Its member of the leases set: the tenant rides along, so Redis needs no lookup for it. */
  readonly member: string;
  /** Granted from the local share while Redis was unreachable, not yet in Redis. */
  local: Lease | undefined;
  claimKey = '';

  constructor(id: string, request: AcquireRequest, local: Lease | undefined) {
    this.id = id;
    this.member = leaseMember(request.tenantId, id);
    this.tenantId = request.tenantId;
    this.globalLimit = request.globalLimit;
    this.tenantLimit = request.tenantLimit;
    this.local = local;
  }
}

/** The store's work that no caller waits for, named in its `error` events. */
export type RedisStoreBackgroundOperation = 'renew' | 'subscribe' | 'connection' | 'release';

/** What the Redis store reports besides its answers. */
export interface RedisStoreEvents extends Record<string, unknown> {
  /**
   * Work no caller waits for failed: a renewal (retried next beat), the wake-up subscription,
   * the connection (once per outage) or a release (its lease expires within the TTL).
   */
  error: { readonly operation: RedisStoreBackgroundOperation; readonly error: unknown };
  /** A lease held here was dropped by Redis and could not be re-asserted. */
  lease_lost: { readonly leaseId: string; readonly tenantId: string };
}

/**
 * Slots counted in Redis, shared by every instance using the same `name`: one global cap and
 * per-tenant caps enforced atomically by Lua scripts. Each lease expires `leaseTtlMs` after
 * its last renewal; this process renews all of its leases in one call every third of the TTL,
 * so a crashed instance's slots come back within the TTL. See docs/redis.md.
 */
export class RedisCapacityStore extends TypedEmitter<RedisStoreEvents> implements CapacityStore {
  readonly kind = 'redis';
  readonly options: ResolvedRedisOptions;
  readonly #keys: LimiterKeys;
  readonly #client: Promise<RedisConnection>;
  /** The connection once `#client` has resolved. */
  #connection: RedisConnection | undefined;
  readonly #ownsClient: boolean;
  /** Prefix of this instance's lease ids: short, because Redis compares members byte by byte. */
  readonly #instance = randomBytes(9).toString('base64url');
  #sequence = 0;
  /** Leases held here, by id. */
  readonly #held = new Map<string, RedisLease>();
  /** The limiter epoch last seen, to notice Redis losing its data. */
  #epoch = '';
  readonly #renewal: PeriodicTask<void>;
  /** Releases and acquires of one turn, sent as scripts of at most BATCH_MAX calls. */
  readonly #batch = new Batcher((ops: readonly LeaseOp[]) => this.#runBatch(ops), BATCH_MAX);
  readonly #wakeups: Wakeups;
  readonly #lostListeners: ((lease: Lease) => void)[] = [];
  readonly #local: MemoryCapacityStore | undefined;
  #closed = false;
  /** Redis calls under way, each settled (never rejecting). */
  readonly #inflight = new Set<Promise<void>>();

  constructor(options: RedisStoreOptions) {
    super();
    this.options = resolveRedisOptions(options);
    this.#keys = limiterKeys(this.options.name, this.options.keyPrefix);
    const { client, owned } = connect(options.redis);
    this.#client = client;
    this.#ownsClient = owned;
    // A client that fails to load (bad URL, ioredis missing) surfaces on first use, not here.
    client.then(
      (connection) => {
        this.#connection = connection;
        if (owned) this.#watchConnection(connection);
      },
      () => undefined,
    );
    this.#local = this.options.localShare === undefined ? undefined : new MemoryCapacityStore();
    // A failed renewal is retried next beat; leases outlive two missed beats.
    this.#renewal = new PeriodicTask(
      () => this.#renew(),
      (error) => this.#reportError('renew', error),
    );
    this.#renewal.start(Math.max(50, Math.floor(this.options.leaseTtlMs / 3)));
    this.#wakeups = new Wakeups(this.#client, this.#keys.channel, this.options.pollMs, (error) =>
      this.#reportError('subscribe', error),
    );
  }

  async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#assertOpen();
    // The scripts separate fields with control characters.
    printableField('tenantId', request.tenantId);
    const lease = new RedisLease(`${this.#instance}:${++this.#sequence}`, request, undefined);
    let status: number | undefined;
    try {
      status = await this.#batch.add({ acquire: lease });
    } catch (error) {
      if (this.#local === undefined) throw error;
      return this.#acquireLocally(lease.id, request);
    }
    if (status === 1) {
      this.#held.set(lease.id, lease);
      return lease;
    }
    // 3: Redis lost its data and held leases are being re-asserted; new ones wait.
    return status === 2 ? TENANT_FULL : GLOBAL_FULL;
  }

  /**
   * Gives a slot back. The release goes out with this turn's batch, without waiting for Redis:
   * waiters that retry at once are sent in that same batch, after the release, so they see the
   * freed slot. A release that cannot be delivered leaves a lease nobody renews, which Redis
   * drops within the TTL.
   */
  release(lease: Lease): Promise<void> {
    const held = this.#held.get(lease.id);
    if (held === undefined) return Promise.resolve(); // lost already; nothing counts it
    this.#held.delete(lease.id);
    if (held.local !== undefined) {
      this.#local!.release(held.local);
      return Promise.resolve();
    }
    this.#batch
      .add({ release: held })
      .catch((error: unknown) => this.#reportError('release', error));
    return Promise.resolve();
  }

  /** One script for the releases and acquires of one turn; a status per acquire. */
  async #runBatch(ops: readonly LeaseOp[]): Promise<(number | undefined)[]> {
    const releases: (string | number)[] = [];
    const acquires: (string | number)[] = [];
    for (const op of ops) {
      if ('release' in op)
        releases.push(op.release.member, op.release.tenantId, op.release.claimKey);
      else {
        const { member, tenantId, globalLimit, tenantLimit } = op.acquire;
        acquires.push(member, tenantId, globalLimit, finiteOrNone(tenantLimit));
      }
    }
    const [epoch, ...statuses] = (await this.#run(SCRIPTS.batch, 'batch', [
      this.#keys.channel,
      this.options.leaseTtlMs,
      this.#epoch,
      randomUUID(),
      releases.length / 3,
      ...releases,
      ...acquires,
    ])) as [string, ...number[]];
    this.#epoch = epoch;
    let next = 0;
    return ops.map((op) => ('release' in op ? undefined : statuses[next++]));
  }

  async usage(): Promise<StoreUsage> {
    const reply = (await this.#run(SCRIPTS.usage, 'usage', [])) as (string | number)[];
    const tenants = new Map<string, number>();
    for (let i = 1; i < reply.length; i += 2) tenants.set(String(reply[i]), Number(reply[i + 1]));
    return { active: Number(reply[0]), tenants };
  }

  async claim(lease: Lease, key: string): Promise<ClaimResult> {
    const held = this.#held.get(lease.id);
    if (held?.local !== undefined) return { claimed: true }; // cannot be checked while Redis is away
    const [status, sessionId] = (await this.#run(SCRIPTS.claim, 'claim', [
      leaseMember(lease.tenantId, lease.id),
      key,
    ])) as [number, string?];
    if (status === 1) {
      if (held !== undefined) held.claimKey = key;
      return { claimed: true };
    }
    return { claimed: false, sessionId: sessionId === '' ? undefined : sessionId };
  }

  async bindSession(lease: Lease, key: string, sessionId: string): Promise<void> {
    if (this.#held.get(lease.id)?.local !== undefined) return;
    await this.#run(SCRIPTS.bindSession, 'bind session', [
      leaseMember(lease.tenantId, lease.id),
      key,
      sessionId,
    ]);
  }

  onCapacityFreed(listener: () => void): () => void {
    return this.#wakeups.subscribe(listener);
  }

  onLeaseLost(listener: (lease: Lease) => void): () => void {
    this.#lostListeners.push(listener);
    return () => {
      const index = this.#lostListeners.indexOf(listener);
      if (index >= 0) this.#lostListeners.splice(index, 1);
    };
  }

  /** Leases this process holds now. */
  get held(): number {
    return this.#held.size;
  }

  /** Runs one renewal now (also done every third of the lease TTL). */
  renewNow(): Promise<void> {
    return this.#renewal.runNow();
  }

  /**
   * Stops renewing and listening, and closes the connection the store opened itself. Leases
   * still held expire within the TTL; drain admission first to release them at once.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#renewal.stop();
    await Promise.all(this.#inflight);
    await this.#wakeups.close();
    if (this.#ownsClient) {
      const client = await this.#client.catch(() => undefined);
      // quit() lets sent commands finish, but waits forever on a connection that is down.
      await withDeadline(client?.quit() ?? Promise.resolve(), this.options.timeoutMs, 'quit').catch(
        () => client?.disconnect(),
      );
    }
  }

  #acquireLocally(id: string, request: AcquireRequest): AcquireResult {
    const share = this.options.localShare!;
    const local = this.#local!.tryAcquire({
      tenantId: request.tenantId,
      globalLimit: Math.max(1, Math.floor(request.globalLimit * share)),
      tenantLimit:
        request.tenantLimit === Number.POSITIVE_INFINITY
          ? request.tenantLimit
          : Math.max(1, Math.floor(request.tenantLimit * share)),
    });
    if (local.refused !== undefined) return local;
    const lease = new RedisLease(id, request, local);
    this.#held.set(id, lease);
    return lease;
  }

  /** Renews every lease held here in one call; re-asserts what Redis lost; reports the rest. */
  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    const leases = [...this.#held.values()];
    const args: (string | number)[] = [this.options.leaseTtlMs, this.#epoch, randomUUID()];
    for (const lease of leases) {
      args.push(
        lease.member,
        lease.tenantId,
        lease.globalLimit,
        finiteOrNone(lease.tenantLimit),
        lease.claimKey,
      );
    }
    const reply = (await this.#run(SCRIPTS.renew, 'renew', args, true)) as string[];
    this.#epoch = reply[0]!;
    const lost = new Set(reply.slice(1));
    for (const lease of leases) {
      if (lost.has(lease.member)) {
        // A lease granted locally during an outage that finds no room stays local until released.
        if (lease.local !== undefined) continue;
        if (!this.#held.delete(lease.id)) continue;
        this.emit('lease_lost', { leaseId: lease.id, tenantId: lease.tenantId });
        for (const listener of this.#lostListeners) listener(lease);
      } else if (lease.local !== undefined) {
        // Now counted in Redis: give back the local share.
        this.#local!.release(lease.local);
        lease.local = undefined;
      }
    }
  }

  /**
   * Runs a script with a deadline. Once connected the command is written in this very call, so
   * commands reach Redis in the order they were issued; `inOrder` also rules out a NOSCRIPT
   * retry that would send it later (the renewal needs that: see scripts.ts).
   */
  #run(
    script: LuaScript,
    what: string,
    args: readonly (string | number)[],
    inOrder = false,
  ): Promise<unknown> {
    const send = (client: RedisConnection): Promise<unknown> =>
      withDeadline(
        inOrder
          ? script.runInOrder(client, this.#keys.all, args)
          : script.run(client, this.#keys.all, args),
        this.options.timeoutMs,
        what,
      );
    const connection = this.#connection;
    const call =
      connection !== undefined
        ? send(connection)
        : withDeadline(this.#client, this.options.timeoutMs, 'connect').then(send);
    // close() waits for calls under way: a release cut off by closing would hold a slot for a TTL.
    const settled = call.then(
      () => undefined,
      () => undefined,
    );
    this.#inflight.add(settled);
    void settled.then(() => this.#inflight.delete(settled));
    return call;
  }

  /**
   * A connection the store opened reports its errors here: once per outage (ioredis emits one
   * per reconnect attempt), and again only after it was ready in between.
   */
  #watchConnection(connection: RedisConnection): void {
    let reported = false;
    connection.on('error', (error) => {
      if (!reported) this.#reportError('connection', error);
      reported = true;
    });
    connection.on('ready', () => {
      reported = false;
    });
  }

  /** Background failures go to 'error' listeners, or become process warnings if there are none. */
  #reportError(operation: RedisStoreBackgroundOperation, error: unknown): void {
    if (this.hasListeners('error')) this.emit('error', { operation, error });
    else
      process.emitWarning(
        error instanceof Error ? error : new Error(String(error)),
        'VoiceAdmissionRedisWarning',
      );
  }

  #assertOpen(): void {
    if (this.#closed) throw new RedisUnavailableError('the redis store is closed');
  }
}

/** A store whose slots are counted in Redis and shared by every instance using `name`. */
export function redisStore(options: RedisStoreOptions): RedisCapacityStore {
  return new RedisCapacityStore(options);
}

/** A lease's member in the leases set: `tenant "\n" id` (the scripts split on the newline). */
function leaseMember(tenantId: string, id: string): string {
  return `${tenantId}\n${id}`;
}

/** Scripts take -1 for "no tenant cap". */
function finiteOrNone(limit: number): number {
  return limit === Number.POSITIVE_INFINITY ? -1 : limit;
}

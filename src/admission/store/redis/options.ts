import { ConfigError } from '../../../iface/errors.js';
import {
  describeValue,
  knownKeys,
  numberField,
  objectOrUndefined,
  stringField,
} from '../../../internal/validate.js';

export interface RedisStoreOptions {
  /** An ioredis client, an ioredis Cluster client, or a `redis://` URL. */
  readonly redis: unknown;
  /** The limiter's name: instances with the same name share one cap. */
  readonly name: string;
  /** Key prefix before `{name}`. Default `voice-admission:`. */
  readonly keyPrefix?: string;
  /** A lease not renewed for this long is dropped (crashed instance). Default 15 000 ms. */
  readonly leaseTtlMs?: number;
  /** Deadline for each Redis call. Default 1 000 ms. */
  readonly timeoutMs?: number;
  /** Waiters also retry this often (jittered ±50%) in case a wake-up message was lost. Default 500 ms. */
  readonly pollMs?: number;
  /**
   * When Redis cannot be reached: `'refuse'` (default: admission refuses with
   * `store_unavailable`), or `{ localShare }`: admit locally up to that share of the caps and
   * re-assert those leases in Redis once it is back.
   */
  readonly whenUnavailable?: 'refuse' | { readonly localShare: number };
}

export interface ResolvedRedisOptions {
  readonly name: string;
  readonly keyPrefix: string;
  readonly leaseTtlMs: number;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly localShare: number | undefined;
}

export function resolveRedisOptions(raw: unknown): ResolvedRedisOptions {
  const options = objectOrUndefined('options', raw);
  if (options === undefined) throw new ConfigError('options', 'are required ({ redis, name })');
  knownKeys('options', options, [
    'redis',
    'name',
    'keyPrefix',
    'leaseTtlMs',
    'timeoutMs',
    'pollMs',
    'whenUnavailable',
  ]);
  const leaseTtlMs = numberField(
    'options.leaseTtlMs',
    options.leaseTtlMs,
    { min: 100, integer: true },
    15_000,
  );
  return {
    name: stringField('options.name', options.name, true),
    keyPrefix: stringField('options.keyPrefix', options.keyPrefix) ?? 'voice-admission:',
    leaseTtlMs,
    timeoutMs: numberField(
      'options.timeoutMs',
      options.timeoutMs,
      { min: 1, max: leaseTtlMs },
      Math.min(1_000, leaseTtlMs),
    ),
    pollMs: numberField('options.pollMs', options.pollMs, { min: 10 }, 500),
    localShare: resolveLocalShare(options.whenUnavailable),
  };
}

function resolveLocalShare(raw: unknown): number | undefined {
  if (raw === undefined || raw === 'refuse') return undefined;
  const value = objectOrUndefined('options.whenUnavailable', raw);
  if (value === undefined || typeof value.localShare !== 'number') {
    throw new ConfigError(
      'options.whenUnavailable',
      `must be 'refuse' or { localShare }, got ${describeValue(raw)}`,
    );
  }
  knownKeys('options.whenUnavailable', value, ['localShare']);
  return numberField(
    'options.whenUnavailable.localShare',
    value.localShare,
    { min: 0.001, max: 1 },
    1,
  );
}

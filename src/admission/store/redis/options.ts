import { ConfigError } from '../../../iface/errors.js';
import {
  describeValue,
  durationField,
  knownKeys,
  numberField,
  objectOrUndefined,
  oneOf,
  stringField,
} from '../../../internal/validate.js';
import type { RedisConnection } from './redis-client.js';

/**
 * What an instance does with a session whose lease it could not renew in time (cut off from
 * Redis, or Redis too slow): `'end'` ends it before Redis can give its slot to another instance
 * (strict cap); `'keep'` lets it run (unless it has an idempotency key), admits nothing new
 * until its leases are back in Redis, and counts it as running without a lease. See
 * docs/redis.md.
 */
export type LeaseLossPolicy = 'end' | 'keep';

export interface RedisStoreOptions {
  /** An ioredis client, an ioredis Cluster client, or a `redis://` URL. */
  readonly redis: string | RedisConnection;
  /** The limiter's name: instances with the same name share one cap. */
  readonly name: string;
  /** Key prefix before `{name}`. Default `voice-admission:`. */
  readonly keyPrefix?: string | undefined;
  /** A lease not renewed for this long is dropped (crashed instance). Default 15 000 ms. */
  readonly leaseTtlMs?: number | undefined;
  /**
   * Deadline for each Redis call, connecting included; loading ioredis (once, for a URL) is
   * not counted. Default 1 000 ms.
   */
  readonly timeoutMs?: number | undefined;
  /** Waiters also retry this often (jittered ±50%) in case a wake-up message was lost. Default 500 ms. */
  readonly pollMs?: number | undefined;
  /**
   * When Redis cannot be reached: `'refuse'` (default: admission refuses with
   * `store_unavailable`), or `{ localShare }`: admit locally up to that share of the caps and
   * re-assert those leases in Redis once it is back.
   */
  readonly whenUnavailable?: 'refuse' | { readonly localShare: number } | undefined;
  /** Default `'keep'`: a coordination outage does not hang up on callers. */
  readonly leaseLoss?: LeaseLossPolicy | undefined;
  /**
   * How long before Redis would expire a lease this instance treats it as gone: covers clock
   * drift, late timers and, under `leaseLoss: 'end'`, the time the backend takes to close a
   * session. Default 10% of the TTL, at least 100 ms; at most half the TTL.
   */
  readonly leaseMarginMs?: number | undefined;
}

export interface ResolvedRedisOptions {
  readonly name: string;
  readonly keyPrefix: string;
  readonly leaseTtlMs: number;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly localShare: number | undefined;
  readonly leaseLoss: LeaseLossPolicy;
  readonly leaseMarginMs: number;
}

/** The keys `redisStore()` takes. */
export const REDIS_OPTION_KEYS = [
  'redis',
  'name',
  'keyPrefix',
  'leaseTtlMs',
  'timeoutMs',
  'pollMs',
  'whenUnavailable',
  'leaseLoss',
  'leaseMarginMs',
] as const;

/** Redis keeps lease expiries in whole milliseconds. */
const LEASE_TTL = { min: 100, integer: true } as const;

export function resolveRedisOptions(raw: unknown): ResolvedRedisOptions {
  const options = objectOrUndefined('options', raw);
  if (options === undefined) throw new ConfigError('options', 'are required ({ redis, name })');
  knownKeys('options', options, REDIS_OPTION_KEYS);
  // The TTL and pollMs arm timers, so durationField bounds them; the margin, the call deadline
  // and the renewal beat are bounded by the TTL.
  const leaseTtlMs = durationField('options.leaseTtlMs', options.leaseTtlMs, LEASE_TTL, 15_000);
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
    pollMs: durationField('options.pollMs', options.pollMs, { min: 10 }, 500),
    localShare: resolveLocalShare(options.whenUnavailable),
    leaseLoss: oneOf('options.leaseLoss', options.leaseLoss, ['end', 'keep'] as const) ?? 'keep',
    leaseMarginMs: numberField(
      'options.leaseMarginMs',
      options.leaseMarginMs,
      { min: 0, max: Math.floor(leaseTtlMs / 2) },
      Math.min(Math.floor(leaseTtlMs / 2), Math.max(100, Math.round(leaseTtlMs / 10))),
    ),
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

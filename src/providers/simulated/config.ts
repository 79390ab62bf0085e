import { ConfigError } from '../../iface/errors.js';
import type { HealthState } from '../../iface/health.js';
import {
  describeValue,
  durationField,
  knownKeys,
  numberField,
  objectOrUndefined,
  oneOf,
  stringField,
} from '../../internal/validate.js';

/**
 * The simulation's model. Setup latency for a session that starts while `n` setups
 * (itself included) are under way is
 *
 *   setupLatencyMs × max(1, n / setupCapacity) ^ contentionExponent × (1 ± jitter)
 *
 * which is how a media server behaves under a burst: flat up to its capacity, then
 * super-linearly slower. A setup fails with probability
 * `failureRate + overloadFailureRate × max(0, n − setupCapacity) / n`, and a setup slower than
 * `setupTimeoutMs` fails at that deadline (the caller gave up; the greeting is lost).
 */
export interface SimulatedProviderConfig {
  /**
   * Setup latency with no contention. Default 120 ms. A modelled latency beyond 2147483647 ms
   * (the longest timer Node.js supports, about 24.8 days) is held for that long.
   */
  readonly setupLatencyMs?: number | undefined;
  /** Concurrent setups handled before latency grows. Default 10. */
  readonly setupCapacity?: number | undefined;
  /** Growth of latency past capacity. Default 1.5. */
  readonly contentionExponent?: number | undefined;
  /** Relative spread of latencies, 0..1. Default 0.2. */
  readonly jitter?: number | undefined;
  /** Base probability that a setup fails, 0..1. Default 0. */
  readonly failureRate?: number | undefined;
  /** Extra failure probability at full overload, 0..1. Default 0.3. */
  readonly overloadFailureRate?: number | undefined;
  /** Setups slower than this fail at this deadline. Default: none. */
  readonly setupTimeoutMs?: number | undefined;
  /** Sessions end by themselves after this long (`completed`). Default: never. */
  readonly sessionDurationMs?: number | { readonly min: number; readonly max: number } | undefined;
  /** Health the simulation reports at start. Default `healthy`. */
  readonly health?: HealthState | undefined;
  /** Simulated latency of a health check. Default 2 ms. */
  readonly healthLatencyMs?: number | undefined;
  /** Seed for reproducible runs. Default 1. */
  readonly seed?: number | undefined;
  /** URL placed in connection info. Default `sim://localhost`. */
  readonly url?: string | undefined;
  /** Conversation turns on live sessions, with a response latency that grows past a capacity. */
  readonly turns?: SimulatedTurnsConfig | undefined;
}

/**
 * Each live session takes a turn every `intervalMs` (the first after a random part of it)
 * and reports its response latency (end of the caller's turn to the agent's first audio):
 *
 *   latencyMs × max(1, live / capacity) ^ exponent × (1 ± jitter)
 *
 * where `live` counts open sessions: how a shared model or CPU behaves when more calls run
 * than it can serve. `capacityChanges` change the capacity during the run (a slow model
 * provider, a noisy neighbour), each `atMs` after `start()`.
 */
export interface SimulatedTurnsConfig {
  /** Time between a session's turns. Default 4 000 ms. */
  readonly intervalMs?: number | undefined;
  /** Response latency at or under capacity. Default 600 ms. */
  readonly latencyMs?: number | undefined;
  /** Live sessions served before latency grows. Default 50. */
  readonly capacity?: number | undefined;
  /** Growth of latency past capacity. Default 2. */
  readonly exponent?: number | undefined;
  /** Relative spread of latencies, 0..1. Default 0.2. */
  readonly jitter?: number | undefined;
  /** Capacity changes during the run, e.g. halved for a while, then restored. */
  readonly capacityChanges?:
    | readonly { readonly atMs: number; readonly capacity: number }[]
    | undefined;
}

export interface TurnModel {
  readonly intervalMs: number;
  readonly latencyMs: number;
  readonly capacity: number;
  readonly exponent: number;
  readonly jitter: number;
  readonly capacityChanges: readonly { readonly atMs: number; readonly capacity: number }[];
}

export interface SimulationModel {
  readonly setupLatencyMs: number;
  readonly setupCapacity: number;
  readonly contentionExponent: number;
  readonly jitter: number;
  readonly failureRate: number;
  readonly overloadFailureRate: number;
  readonly setupTimeoutMs: number;
  readonly sessionDurationMs: { readonly min: number; readonly max: number } | undefined;
  readonly health: HealthState;
  readonly healthLatencyMs: number;
  readonly seed: number;
  readonly url: string;
  readonly turns: TurnModel | undefined;
}

/** The keys `providerConfig` takes. */
export const SIMULATED_CONFIG_KEYS = [
  'setupLatencyMs',
  'setupCapacity',
  'contentionExponent',
  'jitter',
  'failureRate',
  'overloadFailureRate',
  'setupTimeoutMs',
  'sessionDurationMs',
  'health',
  'healthLatencyMs',
  'seed',
  'url',
  'turns',
] as const;

export function parseSimulatedConfig(raw: unknown): SimulationModel {
  const f = 'providerConfig';
  const value = objectOrUndefined(f, raw) ?? {};
  knownKeys(f, value, SIMULATED_CONFIG_KEYS);
  const probability = { min: 0, max: 1 };
  return {
    setupLatencyMs: durationField(`${f}.setupLatencyMs`, value.setupLatencyMs, { min: 0 }, 120),
    setupCapacity: numberField(
      `${f}.setupCapacity`,
      value.setupCapacity,
      { min: 1, integer: true },
      10,
    ),
    contentionExponent: numberField(
      `${f}.contentionExponent`,
      value.contentionExponent,
      { min: 0 },
      1.5,
    ),
    jitter: numberField(`${f}.jitter`, value.jitter, { min: 0, max: 1 }, 0.2),
    failureRate: numberField(`${f}.failureRate`, value.failureRate, probability, 0),
    overloadFailureRate: numberField(
      `${f}.overloadFailureRate`,
      value.overloadFailureRate,
      probability,
      0.3,
    ),
    setupTimeoutMs: durationField(
      `${f}.setupTimeoutMs`,
      value.setupTimeoutMs,
      { min: 1, infinite: true },
      Number.POSITIVE_INFINITY,
    ),
    sessionDurationMs: parseDuration(`${f}.sessionDurationMs`, value.sessionDurationMs),
    health: oneOf(`${f}.health`, value.health, ['healthy', 'degraded', 'unhealthy']) ?? 'healthy',
    healthLatencyMs: durationField(`${f}.healthLatencyMs`, value.healthLatencyMs, { min: 0 }, 2),
    seed: numberField(`${f}.seed`, value.seed, { integer: true }, 1),
    url: stringField(`${f}.url`, value.url) ?? 'sim://localhost',
    turns: parseTurns(`${f}.turns`, value.turns),
  };
}

function parseTurns(field: string, raw: unknown): TurnModel | undefined {
  const value = objectOrUndefined(field, raw);
  if (value === undefined) return undefined;
  knownKeys(field, value, [
    'intervalMs',
    'latencyMs',
    'capacity',
    'exponent',
    'jitter',
    'capacityChanges',
  ]);
  const capacity = { min: 1, integer: true };
  const changes = value.capacityChanges ?? [];
  if (!Array.isArray(changes))
    throw new ConfigError(
      `${field}.capacityChanges`,
      `must be an array, got ${describeValue(changes)}`,
    );
  return {
    intervalMs: durationField(`${field}.intervalMs`, value.intervalMs, { min: 1 }, 4_000),
    latencyMs: numberField(`${field}.latencyMs`, value.latencyMs, { min: 0 }, 600),
    capacity: numberField(`${field}.capacity`, value.capacity, capacity, 50),
    exponent: numberField(`${field}.exponent`, value.exponent, { min: 0 }, 2),
    jitter: numberField(`${field}.jitter`, value.jitter, { min: 0, max: 1 }, 0.2),
    capacityChanges: changes.map((raw: unknown, i) => {
      const at = `${field}.capacityChanges[${i}]`;
      const change = objectOrUndefined(at, raw);
      if (change === undefined) throw new ConfigError(at, 'must be { atMs, capacity }');
      knownKeys(at, change, ['atMs', 'capacity']);
      return {
        atMs: durationField(`${at}.atMs`, change.atMs, { min: 0 }, 0),
        capacity: numberField(`${at}.capacity`, change.capacity ?? Number.NaN, capacity, 1),
      };
    }),
  };
}

function parseDuration(field: string, value: unknown): SimulationModel['sessionDurationMs'] {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    const ms = durationField(field, value, { min: 0 }, 0);
    return { min: ms, max: ms };
  }
  const range = objectOrUndefined(field, value) ?? {};
  knownKeys(field, range, ['min', 'max']);
  const min = durationField(`${field}.min`, range.min, { min: 0 }, 0);
  const max = durationField(`${field}.max`, range.max, { min }, min);
  return { min, max };
}

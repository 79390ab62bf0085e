import { ConfigError } from '../iface/errors.js';
import { describeValue, knownKeys, numberField, objectOrUndefined } from '../internal/validate.js';
import type { TelemetryOptions } from '../telemetry/options.js';
import { AdaptiveLimit } from './adaptive/adaptive-limit.js';
import type { CapacityStore } from './store/capacity-store.js';
import { memoryStore } from './store/memory-store.js';
import type { AdmissionTracer } from './tracer.js';

export interface TenantLimitsOptions {
  /** Cap for tenants without an override. Default: none (only the global cap applies). */
  readonly defaultMax?: number;
  /** Per-tenant overrides. */
  readonly max?: Readonly<Record<string, number>>;
}

export interface QueueOptions {
  /** Waiters held at most; 0 refuses at once when full (the default). */
  readonly maxSize?: number;
  /** Waiters one tenant may hold at most, so one tenant cannot fill the queue. Default: maxSize. */
  readonly maxPerTenant?: number;
  /** Default wait before `queue_timeout`. Default 10 000 ms. */
  readonly timeoutMs?: number;
}

export interface SetupOptions {
  /** Sessions in their setup phase at once, fixed or `adaptive(...)`. Default: unlimited. */
  readonly concurrency?: number | AdaptiveLimit;
  /** Setup starts per second, spaced evenly. Default: unlimited. */
  readonly perSecond?: number;
  /** A setup taking longer is aborted and fails with `timeout`. Default 30 000 ms. */
  readonly timeoutMs?: number;
}

export interface HealthGateOptions {
  /** Time between background health checks. Default 5 000 ms. */
  readonly intervalMs?: number;
  /** A check slower than this counts as failed. Default 2 000 ms. */
  readonly timeoutMs?: number;
  /** Consecutive failed checks before admission closes. Default 1. */
  readonly failureThreshold?: number;
}

export interface AdmissionOptions {
  /** Sessions (slots) held at once, across everyone sharing the store: the hard ceiling. */
  readonly maxConcurrentSessions: number;
  /**
   * An `adaptive(...)` limit on this instance's sessions, found from setup latency and
   * failures; `maxConcurrentSessions` stays the ceiling.
   */
  readonly limit?: AdaptiveLimit;
  readonly tenants?: TenantLimitsOptions;
  readonly queue?: QueueOptions;
  readonly setup?: SetupOptions;
  /** Background health gating; `false` disables it. Enabled by default. */
  readonly health?: HealthGateOptions | false;
  /** Where slots are counted. Default: `memoryStore()`. */
  readonly store?: CapacityStore;
  /** Span hooks; by default the OpenTelemetry ones of the telemetry options. */
  readonly tracer?: AdmissionTracer;
  /**
   * OpenTelemetry metrics and spans (see docs/autoscaling.md), on by default with the global
   * providers; `false` turns them off at no cost.
   */
  readonly telemetry?: false | TelemetryOptions;
}

export interface ResolvedOptions {
  readonly maxConcurrentSessions: number;
  readonly adaptiveLimit: AdaptiveLimit | undefined;
  readonly tenantDefaultMax: number;
  readonly tenantMax: ReadonlyMap<string, number>;
  readonly queue: {
    readonly maxSize: number;
    readonly maxPerTenant: number;
    readonly timeoutMs: number;
  };
  readonly setup: {
    readonly concurrency: number | AdaptiveLimit;
    readonly perSecond: number;
    readonly timeoutMs: number;
  };
  readonly health:
    | { readonly intervalMs: number; readonly timeoutMs: number; readonly failureThreshold: number }
    | undefined;
  readonly store: CapacityStore;
  readonly tracer: AdmissionTracer | undefined;
  /** Validated by the instrumentation that reads it. */
  readonly telemetry: unknown;
}

const INF = Number.POSITIVE_INFINITY;
const cap = { min: 1, integer: true } as const;
const capOrInfinity = { min: 1, integer: true, infinite: true } as const;
const durationMs = { min: 1, infinite: true } as const;

export function resolveOptions(raw: unknown): ResolvedOptions {
  const options = objectOrUndefined('options', raw);
  if (options === undefined)
    throw new ConfigError('options', 'are required (at least maxConcurrentSessions)');
  knownKeys('options', options, [
    'maxConcurrentSessions',
    'limit',
    'tenants',
    'queue',
    'setup',
    'health',
    'store',
    'tracer',
    'telemetry',
  ]);
  if (options.maxConcurrentSessions === undefined) {
    throw new ConfigError('options.maxConcurrentSessions', 'is required');
  }
  const maxConcurrentSessions = numberField(
    'options.maxConcurrentSessions',
    options.maxConcurrentSessions,
    cap,
    1,
  );
  const tenants = resolveTenantLimits('options.tenants', options.tenants);

  const queue = objectOrUndefined('options.queue', options.queue) ?? {};
  knownKeys('options.queue', queue, ['maxSize', 'maxPerTenant', 'timeoutMs']);
  const maxSize = numberField('options.queue.maxSize', queue.maxSize, { min: 0, integer: true }, 0);
  const resolvedQueue = {
    maxSize,
    maxPerTenant: numberField(
      'options.queue.maxPerTenant',
      queue.maxPerTenant,
      { min: 0, integer: true },
      maxSize,
    ),
    timeoutMs: numberField('options.queue.timeoutMs', queue.timeoutMs, durationMs, 10_000),
  };

  const setup = objectOrUndefined('options.setup', options.setup) ?? {};
  knownKeys('options.setup', setup, ['concurrency', 'perSecond', 'timeoutMs']);
  const resolvedSetup = {
    concurrency:
      setup.concurrency instanceof AdaptiveLimit
        ? setup.concurrency
        : numberField('options.setup.concurrency', setup.concurrency, capOrInfinity, INF),
    perSecond: numberField(
      'options.setup.perSecond',
      setup.perSecond,
      { min: 0.001, infinite: true },
      INF,
    ),
    timeoutMs: numberField('options.setup.timeoutMs', setup.timeoutMs, durationMs, 30_000),
  };

  return {
    maxConcurrentSessions,
    adaptiveLimit: resolveAdaptive(options.limit),
    tenantDefaultMax: tenants.defaultMax,
    tenantMax: tenants.max,
    queue: resolvedQueue,
    setup: resolvedSetup,
    health: resolveHealth(options.health),
    store: resolveStore(options.store),
    tracer: resolveTracer(options.tracer),
    telemetry: options.telemetry,
  };
}

export function resolveTenantLimits(
  field: string,
  raw: unknown,
): { defaultMax: number; max: Map<string, number> } {
  const tenants = objectOrUndefined(field, raw) ?? {};
  knownKeys(field, tenants, ['defaultMax', 'max']);
  const defaultMax = numberField(`${field}.defaultMax`, tenants.defaultMax, capOrInfinity, INF);
  const overrides = objectOrUndefined(`${field}.max`, tenants.max) ?? {};
  const max = new Map<string, number>();
  for (const [tenantId, value] of Object.entries(overrides)) {
    max.set(
      tenantId,
      numberField(
        `${field}.max.${tenantId}`,
        value,
        { min: 0, integer: true, infinite: true },
        INF,
      ),
    );
  }
  return { defaultMax, max };
}

function resolveAdaptive(raw: unknown): AdaptiveLimit | undefined {
  if (raw === undefined || raw instanceof AdaptiveLimit) return raw;
  throw new ConfigError(
    'options.limit',
    `must be adaptive({ min, max, ... }), got ${describeValue(raw)}`,
  );
}

function resolveHealth(raw: unknown): ResolvedOptions['health'] {
  if (raw === false) return undefined;
  if (raw === true) throw new ConfigError('options.health', 'must be an object or false, got true');
  const health = objectOrUndefined('options.health', raw) ?? {};
  knownKeys('options.health', health, ['intervalMs', 'timeoutMs', 'failureThreshold']);
  const intervalMs = numberField(
    'options.health.intervalMs',
    health.intervalMs,
    { min: 10 },
    5_000,
  );
  return {
    intervalMs,
    timeoutMs: numberField(
      'options.health.timeoutMs',
      health.timeoutMs,
      { min: 1, max: intervalMs },
      Math.min(2_000, intervalMs),
    ),
    failureThreshold: numberField(
      'options.health.failureThreshold',
      health.failureThreshold,
      cap,
      1,
    ),
  };
}

function resolveStore(raw: unknown): CapacityStore {
  if (raw === undefined) return memoryStore();
  const store = raw as Partial<CapacityStore> | null;
  if (
    store === null ||
    typeof store !== 'object' ||
    typeof store.tryAcquire !== 'function' ||
    typeof store.release !== 'function' ||
    typeof store.usage !== 'function'
  ) {
    throw new ConfigError(
      'options.store',
      `must be a CapacityStore (memoryStore() or redisStore()), got ${describeValue(raw)}`,
    );
  }
  return store as CapacityStore;
}

function resolveTracer(raw: unknown): AdmissionTracer | undefined {
  if (raw === undefined) return undefined;
  const tracer = raw as Partial<AdmissionTracer> | null;
  if (
    tracer === null ||
    typeof tracer !== 'object' ||
    typeof tracer.startAdmission !== 'function'
  ) {
    throw new ConfigError(
      'options.tracer',
      `must implement startAdmission(), got ${describeValue(raw)}`,
    );
  }
  return tracer as AdmissionTracer;
}

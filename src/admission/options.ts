import type { VoiceBackend } from '../iface/backend.js';
import { ConfigError } from '../iface/errors.js';
import type { TelemetryOptions } from '../iface/telemetry.js';
import {
  describeValue,
  durationField,
  knownKeys,
  numberField,
  optionsOrUndefined,
} from '../internal/validate.js';
import { AdaptiveLimit } from './adaptive/adaptive-limit.js';
import { resolveTenantCaps, SESSION_CAP } from './gate/limits.js';
import type { Instrumentation } from './instrumentation.js';
import type { CapacityStore } from './store/capacity-store.js';
import { memoryStore } from './store/memory-store.js';
import type { AdmissionTracer } from './tracer.js';

export interface TenantLimitsOptions {
  /** Cap for tenants without an override. Default: none (only the global cap applies). */
  readonly defaultMax?: number | undefined;
  /**
   * Per-tenant overrides, 0 for a tenant that may hold nothing (its requests are refused at
   * once with `tenant_capacity` and no `retryAfterMs`, never queued): a plain object from tenant id
   * to cap, read by its own keys (a Map is refused, as it has none). In an object literal
   * `__proto__` sets the prototype; for ids that come from input, build the object with
   * `Object.fromEntries`, which makes every id a key.
   */
  readonly max?: Readonly<Record<string, number>> | undefined;
}

export interface QueueOptions {
  /** Waiters held at most; 0 refuses at once when full (the default). */
  readonly maxSize?: number | undefined;
  /** Waiters one tenant may hold at most, so one tenant cannot fill the queue. Default: maxSize. */
  readonly maxPerTenant?: number | undefined;
  /**
   * Default wait before `queue_timeout`; `Infinity` waits without a deadline. Default 10 000 ms.
   * A waiter keeps the process alive until its deadline; one without a deadline keeps nothing
   * alive: only a slot's release can admit it, and what holds the slot keeps the process up.
   */
  readonly timeoutMs?: number | undefined;
}

export interface SetupOptions {
  /** Sessions in their setup phase at once, fixed or `adaptive(...)`. Default: unlimited. */
  readonly concurrency?: number | AdaptiveLimit | undefined;
  /** Setup starts per second, spaced evenly. Default: unlimited. */
  readonly perSecond?: number | undefined;
  /**
   * A setup taking longer is aborted and its callers get a `timeout` BackendError; `Infinity`
   * sets no timer at all. Default 30 000 ms.
   */
  readonly timeoutMs?: number | undefined;
}

export interface HealthGateOptions {
  /** Time between background health checks. Default 5 000 ms. */
  readonly intervalMs?: number | undefined;
  /** A check slower than this counts as failed. Default 2 000 ms. */
  readonly timeoutMs?: number | undefined;
  /** Consecutive failed checks before admission closes. Default 1. */
  readonly failureThreshold?: number | undefined;
}

/**
 * The options of an `Admission`. They, and the option objects in them (`queue`, `setup`,
 * `health`, `tenants`, `tenants.max`), are plain objects (object literals, or without a
 * prototype): an array, or an object that inherits fields (`Object.create(defaults)`, a class
 * instance), is refused with a `ConfigError`.
 */
export interface AdmissionOptions {
  /**
   * Sessions (slots) held at once, across everyone sharing the store: the hard ceiling.
   * Default: the backend's `BackendConfig.maxConcurrentSessions`; one of the two is required.
   */
  readonly maxConcurrentSessions?: number | undefined;
  /**
   * An `adaptive(...)` limit on this instance's sessions, found from setup latency and
   * failures; `maxConcurrentSessions` stays the ceiling.
   */
  readonly limit?: AdaptiveLimit | undefined;
  readonly tenants?: TenantLimitsOptions | undefined;
  readonly queue?: QueueOptions | undefined;
  readonly setup?: SetupOptions | undefined;
  /** Background health gating; `false` disables it. Enabled by default. */
  readonly health?: HealthGateOptions | false | undefined;
  /**
   * Where slots are counted. Default: `memoryStore()`. The `Admission`s given one store object
   * hold one set of caps (`maxConcurrentSessions`, `tenants`): other caps are refused.
   */
  readonly store?: CapacityStore | undefined;
  /**
   * Span hooks; by default the OpenTelemetry ones of the telemetry options. Hooks that throw
   * cost no caller anything: their error is a `VoiceAdmissionListenerWarning`.
   */
  readonly tracer?: AdmissionTracer | undefined;
  /**
   * OpenTelemetry metrics and spans (see docs/autoscaling.md): on by default with the global
   * providers, these options to choose providers, an `Instrumentation` of your own, or `false`
   * to turn reporting off at no cost. The `Admission` of the package entry builds the
   * OpenTelemetry instrumentation from the options; admission itself never loads it.
   */
  readonly telemetry?: false | TelemetryOptions | Instrumentation | undefined;
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
  readonly instrumentation: Instrumentation | undefined;
}

const INF = Number.POSITIVE_INFINITY;
const capOrInfinity = { min: 1, integer: true, infinite: true } as const;
const durationMs = { min: 1, infinite: true } as const;

/**
 * Validates the options, naming the field and value of the first bad one. The cap defaults to
 * the backend's own `config.maxConcurrentSessions` (as the Go pattern reads it from the
 * backend config).
 */
export function resolveOptions(raw: unknown, backend: VoiceBackend): ResolvedOptions {
  const options = optionsOrUndefined('options', raw);
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
  const maxConcurrentSessions = resolveCap(options.maxConcurrentSessions, backend);
  const tenants = resolveTenantCaps('options.tenants', options.tenants);

  const queue = optionsOrUndefined('options.queue', options.queue) ?? {};
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
    timeoutMs: durationField('options.queue.timeoutMs', queue.timeoutMs, durationMs, 10_000),
  };

  const setup = optionsOrUndefined('options.setup', options.setup) ?? {};
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
    timeoutMs: durationField('options.setup.timeoutMs', setup.timeoutMs, durationMs, 30_000),
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
    instrumentation: resolveInstrumentation(options.telemetry),
  };
}

function resolveCap(raw: unknown, backend: VoiceBackend): number {
  if (raw !== undefined) return numberField('options.maxConcurrentSessions', raw, SESSION_CAP, 1);
  const fromBackend = backend.config?.maxConcurrentSessions;
  if (fromBackend === undefined) {
    throw new ConfigError(
      'options.maxConcurrentSessions',
      'is required (or set maxConcurrentSessions in the backend config)',
    );
  }
  return numberField('backend.config.maxConcurrentSessions', fromBackend, SESSION_CAP, 1);
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
  const health = optionsOrUndefined('options.health', raw) ?? {};
  knownKeys('options.health', health, ['intervalMs', 'timeoutMs', 'failureThreshold']);
  const intervalMs = durationField(
    'options.health.intervalMs',
    health.intervalMs,
    { min: 10 },
    5_000,
  );
  return {
    intervalMs,
    timeoutMs: durationField(
      'options.health.timeoutMs',
      health.timeoutMs,
      { min: 1, max: intervalMs },
      Math.min(2_000, intervalMs),
    ),
    failureThreshold: numberField(
      'options.health.failureThreshold',
      health.failureThreshold,
      SESSION_CAP,
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

/** Reporting as handed in: none, or an Instrumentation (the package entry builds one from options). */
function resolveInstrumentation(raw: unknown): Instrumentation | undefined {
  if (raw === undefined || raw === false) return undefined;
  if (isInstrumentation(raw)) return raw;
  throw new ConfigError(
    'options.telemetry',
    `must be false or an Instrumentation here (OpenTelemetry options are read by the Admission the package exports), got ${describeValue(raw)}`,
  );
}

export function isInstrumentation(value: unknown): value is Instrumentation {
  return typeof (value as Partial<Instrumentation> | null | undefined)?.attach === 'function';
}

import type { VoiceBackend } from '../iface/backend.js';
import { ConfigError } from '../iface/errors.js';
import type { HealthStatus } from '../iface/health.js';
import type { SessionConfig, VoiceSession } from '../iface/session.js';
import { noop } from '../internal/abort.js';
import { callListener, TypedEmitter } from '../internal/emitter.js';
import { validateSessionConfig } from '../internal/session-config.js';
import { tenantIdField } from '../internal/tenant-id.js';
import { describeValue, objectOrUndefined } from '../internal/validate.js';
import { AdaptiveLimit } from './adaptive/adaptive-limit.js';
import { latencyField } from './adaptive/slo-limit.js';
import { checkedSlotRequest, invalid, validateCallOptions } from './call-options.js';
import { Drain } from './drain.js';
import type { AdmissionEvents, DrainResult, EventSink } from './events.js';
import { Gate } from './gate/gate.js';
import { Limits } from './gate/limits.js';
import { Refusals } from './gate/refusals.js';
import type { Slot } from './gate/slot.js';
import type { Work } from './gate/waiter.js';
import { HealthGate } from './health-gate.js';
import type { ObservedAdmission } from './instrumentation.js';
import { type AdmissionOptions, resolveOptions } from './options.js';
import { SessionFlow } from './session/session-flow.js';
import { SetupSmoother } from './session/setup-smoother.js';
import type { CapacityStore, Lease } from './store/capacity-store.js';
import { type CapsCircle, type CapsHolder, capsCircleOf } from './store/shared-caps.js';
import { guardTracer } from './tracer.js';
import type {
  AcquireOptions,
  AdmissionRefusal,
  AdmissionState,
  AdmissionStats,
  CreateSessionOptions,
  DrainOptions,
  LimitsUpdate,
  SlotRequest,
} from './types.js';

const NO_REQUEST: SlotRequest = Object.freeze({});
const NO_OPTIONS: AcquireOptions = Object.freeze({});

/**
 * Decides, before any expensive work starts, whether a session may start now, must wait, or
 * is refused. A thin facade: the gate decides who holds a slot, the session flow runs one
 * request's life from idempotency to release, the drain stops it all. See docs/guide.md.
 */
export class Admission extends TypedEmitter<AdmissionEvents> implements ObservedAdmission {
  readonly backend: VoiceBackend;
  readonly #store: CapacityStore;
  readonly #limits: Limits;
  readonly #refusals: Refusals;
  readonly #health: HealthGate | undefined;
  readonly #smoother: SetupSmoother;
  readonly #gate: Gate;
  readonly #flow: SessionFlow;
  readonly #drain: Drain;
  #state: AdmissionState = 'open';
  readonly #unsubscribeStore: () => void;
  /**
   * Ends the wake-ups for slots freed elsewhere: kept while a drained instance still holds
   * slots, so that another sharing its memory store hears of their release.
   */
  readonly #unsubscribeFreed: () => void;
  readonly #detachTelemetry: () => void;
  /** Through which the Admissions sharing its store object hold one set of caps (memory, Redis). */
  readonly #capsCircle: CapsCircle | undefined;
  /** How this instance holds its caps in common with others sharing its store object. */
  readonly #capsHolder: CapsHolder = {
    caps: () => this.#limits.caps(),
    adopt: (caps, tenantId) => {
      this.#limits.adopt(caps);
      this.#tenantCapsChanged(tenantId);
    },
  };

  constructor(backend: VoiceBackend, options: AdmissionOptions) {
    super();
    if (
      backend === null ||
      typeof backend !== 'object' ||
      typeof backend.createSession !== 'function'
    ) {
      throw new ConfigError('backend', `must be a VoiceBackend, got ${describeValue(backend)}`);
    }
    // Asked on every create: found wrong here, not as a TypeError in each caller's face.
    const { checkSessionConfig } = backend;
    if (checkSessionConfig !== undefined && typeof checkSessionConfig !== 'function') {
      throw new ConfigError(
        'backend.checkSessionConfig',
        `must be a function when set, got ${describeValue(checkSessionConfig)}`,
      );
    }
    const resolved = resolveOptions(options, backend);
    // Asked by the health gate: found missing here, not as every request refused `unhealthy`.
    if (resolved.health !== undefined && typeof backend.healthCheck !== 'function') {
      throw new ConfigError(
        'backend.healthCheck',
        `must be a function while health gating is on (options.health: false turns it off), got ${describeValue(backend.healthCheck)}`,
      );
    }
    this.backend = backend;
    this.#store = resolved.store;
    const adaptive = resolved.adaptiveLimit;
    const setupConcurrency = resolved.setup.concurrency;
    const setupAdaptive = setupConcurrency instanceof AdaptiveLimit ? setupConcurrency : undefined;
    if (adaptive !== undefined && adaptive === setupAdaptive) {
      throw new ConfigError(
        'options.setup.concurrency',
        'must not be the same adaptive limit as options.limit',
      );
    }
    if (setupAdaptive?.slo !== undefined) {
      throw new ConfigError(
        'options.setup.concurrency',
        'a latency objective (adaptive({ slo })) steers the session limit: give it as options.limit',
      );
    }
    this.#capsCircle = capsCircleOf(this.#store);
    // Before anything is claimed: a refused Admission leaves nothing behind.
    this.#capsCircle?.check({
      maxConcurrentSessions: resolved.maxConcurrentSessions,
      tenantDefaultMax: resolved.tenantDefaultMax,
      tenantMax: resolved.tenantMax,
    });
    // Both checked before either is claimed, for the same reason.
    adaptive?.checkClaimable(this, 'options.limit');
    setupAdaptive?.checkClaimable(this, 'options.setup.concurrency');
    adaptive?.claim(this, 'options.limit');
    setupAdaptive?.claim(this, 'options.setup.concurrency');
    this.#limits = new Limits(resolved.maxConcurrentSessions, adaptive, {
      defaultMax: resolved.tenantDefaultMax,
      max: new Map(resolved.tenantMax),
    });
    const events: EventSink = {
      wants: (event) => this.hasListeners(event),
      emit: (event, payload) => this.emit(event, payload),
    };
    const refusals = new Refusals(this.#limits);
    this.#refusals = refusals;
    if (resolved.health !== undefined) {
      this.#health = new HealthGate(backend, resolved.health, (status, previous) =>
        this.#onHealthChange(status, previous),
      );
    }
    this.#gate = new Gate({
      store: this.#store,
      limits: this.#limits,
      queue: resolved.queue,
      health: this.#health,
      refusals,
      events,
      onRelease: () => this.#afterRelease(),
    });
    this.#smoother = new SetupSmoother(resolved.setup);
    const attached = resolved.instrumentation?.attach(this);
    // An instrumentation of the caller's that throws here must not fail the drain or a release.
    this.#detachTelemetry =
      attached === undefined ? noop : () => callListener(attached.detach, undefined);
    this.#flow = new SessionFlow({
      backend,
      gate: this.#gate,
      store: this.#store,
      refusals,
      events,
      smoother: this.#smoother,
      setupTimeoutMs: resolved.setup.timeoutMs,
      sessionLimit: adaptive,
      setupLimit: setupAdaptive,
      tracer: guardTracer(resolved.tracer ?? attached?.tracer),
    });
    this.#drain = new Drain({
      gate: this.#gate,
      flow: this.#flow,
      refusals,
      events,
      stopAdmitting: () => {
        this.#state = 'draining';
        this.#health?.stop();
      },
      finished: () => {
        this.#state = 'drained';
        adaptive?.stopObjective();
        this.#unsubscribeStore();
        if (this.#gate.active === 0) this.#lastReleased();
      },
    });
    adaptive?.onChange(() => this.#limitsChanged());
    adaptive?.slo?.onSignal((signal) => this.emit('latency_signal', signal));
    adaptive?.startObjective(() => this.#gate.active);
    setupAdaptive?.onChange(() => this.#limitsChanged());
    this.#unsubscribeFreed =
      this.#store.onCapacityFreed?.((freed) => this.#gate.capacityMayHaveFreed(undefined, freed)) ??
      noop;
    const unsubscribeLost = this.#store.onLeaseLost?.((lease) => this.#leaseLost(lease)) ?? noop;
    const leaveStore = this.#capsCircle?.join(this.#capsHolder) ?? noop;
    this.#unsubscribeStore = () => {
      unsubscribeLost();
      leaveStore();
    };
    this.#health?.start();
  }

  get state(): AdmissionState {
    return this.#state;
  }

  /** The cap on sessions now in force: the adaptive limit when there is one, under the hard cap. */
  get limit(): number {
    return this.#limits.current;
  }

  /** The hard cap, `maxConcurrentSessions`. */
  get maxConcurrentSessions(): number {
    return this.#limits.hard;
  }

  get store(): CapacityStore {
    return this.#store;
  }

  /** The cap in force for `tenantId` (`Infinity` when none). */
  tenantLimit(tenantId: string): number {
    return this.#limits.tenant(tenantId);
  }

  /**
   * Admits and creates a session: reserves a slot (waiting in the queue if allowed), runs the
   * backend's create through setup smoothing, and binds the slot to the session so it is
   * released once the session has closed, whatever ends it. `config` is read once, at the
   * call: each field's value then is the one admitted, keyed and created.
   */
  async createSession(
    config: SessionConfig,
    options: CreateSessionOptions = {},
  ): Promise<VoiceSession> {
    // Every later step sees this snapshot, never the caller's object again.
    const snapshot = validateSessionConfig(config);
    // The backend's own rules too: a request it could never serve takes no slot, no key and
    // no setup turn, and its refusal is the caller's error, not a failure of the backend.
    this.backend.checkSessionConfig?.(snapshot);
    validateCallOptions(options);
    return this.#flow.create(snapshot, options);
  }

  /**
   * Reserves a slot without creating a session, for work admission should count (a job, a
   * call handled elsewhere). The caller must `release()` it; `slot.signal` aborts if a drain
   * reaches its deadline first.
   */
  acquire(request: SlotRequest = NO_REQUEST, options: AcquireOptions = NO_OPTIONS): Promise<Slot> {
    const checked = checkedSlotRequest(request, options, undefined);
    return (
      checked instanceof ConfigError ? Promise.reject(checked) : this.#gate.acquire(checked)
    ) as Promise<Slot>;
  }

  /**
   * Acquires a slot, runs `work`, and releases the slot however `work` ends. While queued it
   * costs less than `acquire()` followed by `work`: the work waits with the request.
   */
  run<T>(
    request: SlotRequest,
    work: (slot: Slot) => Promise<T> | T,
    options: AcquireOptions = NO_OPTIONS,
  ): Promise<T> {
    if (typeof work !== 'function') return invalid('work', 'a function', work);
    const checked = checkedSlotRequest(request, options, work as Work);
    return (
      checked instanceof ConfigError ? Promise.reject(checked) : this.#gate.acquire(checked)
    ) as Promise<T>;
  }

  /**
   * Takes a slot now or refuses now, synchronously and without waiting in the queue; the
   * refusal is a value, not a thrown error. Needs a synchronous store (the memory store).
   * Requests already waiting keep their turn: if any wait that this one would overtake, it
   * is refused.
   */
  tryAcquire(request: SlotRequest = NO_REQUEST): Slot | AdmissionRefusal {
    if (this.#store.synchronous !== true) {
      throw new ConfigError(
        'store',
        `tryAcquire() needs a synchronous store; the ${this.#store.kind} store answers asynchronously, use acquire()`,
      );
    }
    const tenantId = objectOrUndefined('request', request)?.tenantId ?? 'default';
    return this.#gate.tryAcquire(tenantIdField('request.tenantId', tenantId));
  }

  /**
   * Reports one live call's response latency (end of the caller's turn to the agent's first
   * audio) to a `limit` with a latency objective (`adaptive({ slo })`). Returns false, and
   * does nothing, when the limit has no objective. The objective covers every call this
   * instance admitted, so every tenant's samples count alike; `tenantId` is checked as
   * everywhere else. A latency is a number of ms from 0 to one hour (3,600,000: the
   * gateway's bound too); the first sample makes `stats().slo.state` `live` at once.
   */
  observeLatency(
    latencyMs: number,
    options: { readonly tenantId?: string | undefined } = {},
  ): boolean {
    latencyField('latencyMs', latencyMs);
    const tenantId = objectOrUndefined('options', options)?.tenantId;
    if (tenantId !== undefined) tenantIdField('options.tenantId', tenantId);
    const limit = this.#limits.adaptive;
    if (limit?.slo === undefined) return false;
    limit.observeLatency(latencyMs);
    return true;
  }

  /** Runs a health check now instead of waiting for the next interval. */
  checkHealth(): Promise<HealthStatus> {
    if (this.#health !== undefined) return this.#health.checkNow();
    // A backend's healthCheck that throws, or is missing, is answered as a rejection too.
    return new Promise((resolve) => resolve(this.backend.healthCheck()));
  }

  /**
   * Changes caps at run time. Lowering never evicts; raising lets waiters in at once; a tenant
   * cap lowered to 0 refuses that tenant's waiters at once (`tenant_capacity`).
   */
  setLimits(update: LimitsUpdate): void {
    this.#limits.update(update);
    this.#tenantCapsChanged(undefined);
    this.#shareCaps(undefined);
  }

  /**
   * Sets one tenant's cap; `undefined` returns it to the default. 0 refuses the tenant's
   * waiters at once, as it will its next requests.
   */
  setTenantLimit(tenantId: string, max: number | undefined): void {
    this.#limits.setTenant(tenantId, max);
    this.#tenantCapsChanged(tenantId);
    this.#shareCaps(tenantId);
  }

  /** Admissions sharing a store object hold one set of caps: a change here is theirs too. */
  #shareCaps(tenantId: string | undefined): void {
    this.#capsCircle?.changed(this.#capsHolder, tenantId);
  }

  stats(): AdmissionStats {
    const gate = this.#gate;
    const tenants = [...gate.tenants()].sort().map((tenantId) => ({
      tenantId,
      active: gate.heldBy(tenantId),
      queued: gate.queuedFor(tenantId),
      limit: this.#limits.tenant(tenantId),
    }));
    return {
      state: this.#state,
      active: gate.active,
      queued: gate.queued,
      settingUp: this.#flow.settingUp,
      limit: this.#limits.current,
      maxConcurrentSessions: this.#limits.hard,
      setupConcurrency: this.#smoother.concurrency,
      utilization: gate.active / this.#limits.current,
      admitting: gate.admitting,
      storeAvailable: this.#store.available !== false,
      health: this.#health?.status,
      tenants,
      slo: this.#limits.adaptive?.slo?.stats(performance.now()),
    };
  }

  /** Slots held by this instance. */
  get active(): number {
    return this.#gate.active;
  }

  /** Requests waiting in this instance's queue. */
  get queued(): number {
    return this.#gate.queued;
  }

  /**
   * Stops admitting (new requests and queued ones get `draining`), waits up to `timeoutMs`
   * for held slots to be released, then closes the remaining sessions (reason `drained`),
   * cancels setups under way and signals raw slot holders; slots are released once what they
   * paid for is gone, waited for up to `closeTimeoutMs`. A call while a drain is under way
   * returns that drain; a budget it names brings that deadline forward if it ends sooner (a
   * patient `timeoutMs: Infinity` drain can still be forced with `{ timeoutMs: 0 }`), never back.
   * Invalid options reject with a `ConfigError`, and nothing stops.
   */
  drain(options: DrainOptions = {}): Promise<DrainResult> {
    return this.#drain.run(options);
  }

  #afterRelease(): void {
    this.#drain.released();
    if (this.#state === 'drained' && this.#gate.active === 0) this.#lastReleased();
  }

  /**
   * A drained instance holds no slot any more. A memory store tells the others sharing it of a
   * release only while the releasing instance listens too (it lets its own waiters in), so the
   * wake-ups end here rather than at the end of the drain. Slots still held report their release
   * first: gauges and counters end at zero.
   */
  #lastReleased(): void {
    this.#unsubscribeFreed();
    this.#detachTelemetry();
  }

  #onHealthChange(status: HealthStatus, previous: HealthStatus | undefined): void {
    const admitting = this.#health?.open ?? true;
    this.emit('health', { status, previous, admitting });
    if (admitting) this.#gate.capacityMayHaveFreed();
  }

  /** The adaptive limits moved: reports them, and lets waiters in if they rose. */
  #limitsChanged(): void {
    this.#reportLimits();
    this.#gate.capacityMayHaveFreed();
  }

  /**
   * Caps were set (`tenantId`'s, or any when undefined): reports the limits, refuses at once the
   * waiters of a tenant now capped at 0, and lets waiters in if caps rose.
   */
  #tenantCapsChanged(tenantId: string | undefined): void {
    this.#reportLimits();
    const changed = tenantId === undefined ? this.#limits.shutOutTenants() : [tenantId];
    this.#gate.tenantCapsChanged(changed, tenantId);
  }

  #reportLimits(): void {
    if (!this.hasListeners('limits')) return;
    this.emit('limits', {
      maxConcurrentSessions: this.#limits.hard,
      limit: this.#limits.current,
      setupConcurrency: this.#smoother.concurrency,
    });
  }

  /** The store no longer counts this slot: stop what it admitted, so the cap holds. */
  #leaseLost(lease: Lease): void {
    const slot = this.#gate.slotOf(lease);
    if (slot === undefined) return;
    this.emit('lease_lost', { tenantId: slot.tenantId, sessionId: this.#flow.sessionOf(slot)?.id });
    slot.revoke(this.#refusals.leaseLost(slot.tenantId));
  }
}

import type { VoiceBackend } from '../iface/backend.js';
import { AdmissionError, type AdmissionErrorCode, ConfigError } from '../iface/errors.js';
import type { HealthStatus } from '../iface/health.js';
import type { SessionConfig, VoiceSession } from '../iface/session.js';
import { noop, onAbort } from '../internal/abort.js';
import { settledWithin } from '../internal/delay.js';
import { TypedEmitter } from '../internal/emitter.js';
import { rejectSoon } from '../internal/reject-soon.js';
import { DEFAULT_TENANT, tenantOf, validateSessionConfig } from '../internal/session-config.js';
import { describeValue, knownKeys, numberField, objectOrUndefined } from '../internal/validate.js';
import { AdaptiveLimit } from './adaptive/adaptive-limit.js';
import { invalid, validateCallOptions } from './call-options.js';
import { DeadlineQueue } from './deadline-queue.js';
import type { AdmissionEvents, DequeueOutcome, DrainResult } from './events.js';
import { FairQueue } from './fair-queue.js';
import { HealthGate } from './health-gate.js';
import { defaultInstrumentation } from './instrumentation.js';
import {
  type AdmissionOptions,
  type ResolvedOptions,
  resolveOptions,
  resolveTenantLimits,
} from './options.js';
import { refusalMessage } from './refusal-message.js';
import { RetryEstimator } from './retry-estimator.js';
import { SessionSetups } from './session-setup.js';
import { SetupSmoother } from './setup-smoother.js';
import { SharedCreations } from './shared-creation.js';
import { Slot, SlotList, type TenantHold } from './slot.js';
import {
  type AcquireResult,
  type CapacityStore,
  isRefusal,
  type Lease,
  type Refusal,
  type RefusalReason,
} from './store/capacity-store.js';
import type { AdmissionSpan } from './tracer.js';
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
import { runHolding, Waiter, type Work } from './waiter.js';

type SyncOrAsync<T> = T | Promise<T>;

/** Idle per-tenant hold counters kept for reuse before a sweep. */
const IDLE_HOLDS_KEPT = 1_024;

function isPromise<T>(value: SyncOrAsync<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

/**
 * Decides, before any expensive work starts, whether a session may start now, must wait, or
 * is refused. A slot is reserved in the store before the backend is called and released
 * exactly once on every path. See docs/guide.md for the concepts.
 */
export class Admission extends TypedEmitter<AdmissionEvents> {
  readonly backend: VoiceBackend;
  readonly #store: CapacityStore;
  readonly #queueConfig: ResolvedOptions['queue'];
  readonly #tracer: ResolvedOptions['tracer'];
  /** The hard cap (`maxConcurrentSessions`). */
  #limit: number;
  readonly #adaptive: AdaptiveLimit | undefined;
  readonly #setupAdaptive: AdaptiveLimit | undefined;
  #tenantDefaultMax: number;
  #tenantMax: Map<string, number>;

  #state: AdmissionState = 'open';
  #active = 0;
  /** Slots held per tenant by this instance; idle entries are kept for reuse, then swept. */
  readonly #holds = new Map<string, TenantHold>();
  readonly #slots = new SlotList();
  readonly #queue = new FairQueue<Waiter>();
  readonly #deadlines = new DeadlineQueue<Waiter>((waiter) => this.#expire(waiter));
  /** Tenants the store refused for their cap; cleared when capacity may have freed. */
  readonly #blockedTenants = new Set<string>();
  /** The store refused for the global cap while requests wait; cleared likewise. */
  #globalBlocked = false;
  #pumping = false;
  #pumpAgain = false;
  #asyncGrantInFlight = false;

  readonly #health: HealthGate | undefined;
  readonly #smoother: SetupSmoother;
  readonly #setups: SessionSetups;
  readonly #retry = new RetryEstimator();
  readonly #creations = new SharedCreations();
  #draining: Promise<DrainResult> | undefined;
  #onIdle: (() => void) | undefined;
  readonly #unsubscribeStore: () => void;
  readonly #detachTelemetry: () => void;

  readonly #isBlocked = (tenantId: string): boolean => this.#blockedTenants.has(tenantId);
  readonly #heldBy = (tenantId: string): number => this.#holds.get(tenantId)?.active ?? 0;
  readonly #releaseSlot = (slot: Slot): void => this.#onRelease(slot);

  constructor(backend: VoiceBackend, options: AdmissionOptions) {
    super();
    if (
      backend === null ||
      typeof backend !== 'object' ||
      typeof backend.createSession !== 'function'
    ) {
      throw new ConfigError('backend', `must be a VoiceBackend, got ${describeValue(backend)}`);
    }
    const resolved = resolveOptions(options);
    this.backend = backend;
    this.#store = resolved.store;
    this.#limit = resolved.maxConcurrentSessions;
    this.#adaptive = resolved.adaptiveLimit;
    const setupConcurrency = resolved.setup.concurrency;
    this.#setupAdaptive = setupConcurrency instanceof AdaptiveLimit ? setupConcurrency : undefined;
    if (this.#adaptive === this.#setupAdaptive && this.#adaptive !== undefined) {
      throw new ConfigError(
        'options.setup.concurrency',
        'must not be the same adaptive limit as options.limit',
      );
    }
    this.#adaptive?.claim(this, 'options.limit');
    this.#setupAdaptive?.claim(this, 'options.setup.concurrency');
    this.#tenantDefaultMax = resolved.tenantDefaultMax;
    this.#tenantMax = new Map(resolved.tenantMax);
    this.#queueConfig = resolved.queue;
    this.#smoother = new SetupSmoother(resolved.setup);
    this.#setups = new SessionSetups({
      backend,
      smoother: this.#smoother,
      timeoutMs: resolved.setup.timeoutMs,
      sessionLimit: this.#adaptive,
      setupLimit: this.#setupAdaptive,
      activeSessions: () => this.#active,
    });
    this.#adaptive?.onChange(() => this.#limitsChanged());
    this.#setupAdaptive?.onChange(() => this.#limitsChanged());
    const unsubscribeFreed =
      this.#store.onCapacityFreed?.(() => this.#capacityMayHaveFreed()) ?? noop;
    const unsubscribeLost = this.#store.onLeaseLost?.((lease) => this.#leaseLost(lease)) ?? noop;
    this.#unsubscribeStore = () => {
      unsubscribeFreed();
      unsubscribeLost();
    };
    if (resolved.health !== undefined) {
      this.#health = new HealthGate(backend, resolved.health, (status, previous) =>
        this.#onHealthChange(status, previous),
      );
      this.#health.start();
    }
    const instrumentation = resolved.telemetry === false ? undefined : defaultInstrumentation();
    const attached = instrumentation?.attach(this, resolved.telemetry);
    this.#tracer = resolved.tracer ?? attached?.tracer;
    this.#detachTelemetry = attached?.detach ?? noop;
  }

  get state(): AdmissionState {
    return this.#state;
  }

  /** The cap on sessions now in force: the adaptive limit when there is one, under the hard cap. */
  get limit(): number {
    return this.#adaptive === undefined
      ? this.#limit
      : Math.min(this.#limit, this.#adaptive.current);
  }

  /** The hard cap, `maxConcurrentSessions`. */
  get maxConcurrentSessions(): number {
    return this.#limit;
  }

  get store(): CapacityStore {
    return this.#store;
  }

  /** The cap in force for `tenantId` (`Infinity` when none). */
  tenantLimit(tenantId: string): number {
    return this.#tenantMax.get(tenantId) ?? this.#tenantDefaultMax;
  }

  // ---------------------------------------------------------------- sessions

  /**
   * Admits and creates a session: reserves a slot (waiting in the queue if allowed), runs the
   * backend's create through setup smoothing, and binds the slot to the session so it is
   * released when the session ends for any reason.
   */
  async createSession(
    config: SessionConfig,
    options: CreateSessionOptions = {},
  ): Promise<VoiceSession> {
    validateSessionConfig(config);
    validateCallOptions(options);
    const tenantId = tenantOf(config);
    const key = config.idempotencyKey;
    if (key === undefined) return this.#create(config, tenantId, options, options.signal);

    const existing = this.#creations.find(tenantId, key);
    if (existing === undefined) {
      return this.#creations
        .start(tenantId, key, config.userId, (signal) =>
          this.#create(config, tenantId, options, signal),
        )
        .join(options.signal, tenantId);
    }
    if (existing.userId !== config.userId) {
      this.#emitRefused(tenantId, 'duplicate', undefined);
      throw new AdmissionError(
        'duplicate',
        'the idempotency key is held by a session for another user',
        { tenantId, sessionId: existing.session?.id },
      );
    }
    return existing.join(options.signal, tenantId);
  }

  async #create(
    config: SessionConfig,
    tenantId: string,
    options: CreateSessionOptions,
    signal: AbortSignal | undefined,
  ): Promise<VoiceSession> {
    const span = this.#tracer?.startAdmission({ tenantId, userId: config.userId });
    let slot: Slot;
    try {
      slot = (await this.#acquire(
        tenantId,
        options.priority ?? 0,
        signal,
        options.timeoutMs,
        undefined,
      )) as Slot;
    } catch (error) {
      span?.end({
        outcome: (error as AdmissionError).code,
        waitedMs: 0,
        active: this.#active,
        error,
      });
      throw error;
    }
    const claimKey =
      config.idempotencyKey === undefined ? undefined : `${tenantId}\n${config.idempotencyKey}`;
    if (claimKey !== undefined && this.#store.claim !== undefined) {
      await this.#claim(slot, claimKey, span);
    }
    return this.#setUp(config, slot, signal, span, claimKey);
  }

  /**
   * Claims the idempotency key in a shared store, so that a request with the same key on
   * another instance gets `duplicate` instead of a second session. Gives the slot back if not.
   */
  async #claim(slot: Slot, key: string, span: AdmissionSpan | undefined): Promise<void> {
    let error: AdmissionError | undefined;
    try {
      const claim = await this.#store.claim!(slot.lease, key);
      if (!claim.claimed) {
        this.#emitRefused(slot.tenantId, 'duplicate', undefined);
        error = new AdmissionError(
          'duplicate',
          'a session for this idempotency key exists on another instance',
          {
            tenantId: slot.tenantId,
            sessionId: claim.sessionId,
          },
        );
      }
    } catch (cause) {
      error = this.#storeUnavailable(slot.tenantId, cause);
    }
    if (error === undefined) return;
    slot.release();
    span?.end({ outcome: error.code, waitedMs: slot.waitedMs, active: this.#active, error });
    throw error;
  }

  async #setUp(
    config: SessionConfig,
    slot: Slot,
    signal: AbortSignal | undefined,
    span: AdmissionSpan | undefined,
    claimKey: string | undefined,
  ): Promise<VoiceSession> {
    const started = performance.now();
    let session: VoiceSession;
    try {
      session = await this.#setups.run(config, slot, signal, span);
    } catch (error) {
      slot.release();
      if (this.hasListeners('session_failed')) {
        this.emit('session_failed', {
          tenantId: slot.tenantId,
          provider: this.backend.provider,
          durationMs: performance.now() - started,
          error,
        });
      }
      if (error instanceof AdmissionError) this.#emitRefused(slot.tenantId, error.code, undefined);
      span?.end({
        outcome: error instanceof AdmissionError ? error.code : 'create_failed',
        waitedMs: slot.waitedMs,
        active: this.#active,
        error,
      });
      throw error;
    }
    slot.session = session;
    void session.closed.then(() => slot.release());
    if (claimKey !== undefined && this.#store.bindSession !== undefined) {
      this.#store
        .bindSession(slot.lease, claimKey, session.id)
        .catch((error: unknown) => this.#storeError('bind', error));
    }
    if (this.hasListeners('session_created')) {
      this.emit('session_created', {
        tenantId: slot.tenantId,
        sessionId: session.id,
        provider: this.backend.provider,
        durationMs: performance.now() - started,
      });
    }
    span?.end({
      outcome: 'admitted',
      waitedMs: slot.waitedMs,
      active: this.#active,
      sessionId: session.id,
    });
    return session;
  }

  // ---------------------------------------------------------------- raw slots

  /**
   * Reserves a slot without creating a session, for work admission should count (a job, a
   * call handled elsewhere). The caller must `release()` it; `slot.signal` aborts if a drain
   * reaches its deadline first.
   */
  acquire(request: SlotRequest = NO_REQUEST, options: AcquireOptions = NO_OPTIONS): Promise<Slot> {
    return this.#checkedAcquire(request, options, undefined) as Promise<Slot>;
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
    return this.#checkedAcquire(request, options, work) as Promise<T>;
  }

  #checkedAcquire(request: SlotRequest, options: AcquireOptions, work: Work): Promise<unknown> {
    // Field checks only (no key enumeration): this is the hot path for raw slots.
    const tenantId = request.tenantId ?? DEFAULT_TENANT;
    const { priority } = request;
    const { signal, timeoutMs } = options;
    if (typeof tenantId !== 'string' || tenantId.length === 0) {
      return invalid('request.tenantId', 'a non-empty string', tenantId);
    }
    if (priority !== undefined && !Number.isInteger(priority)) {
      return invalid('request.priority', 'an integer', priority);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return invalid('options.signal', 'an AbortSignal', signal);
    }
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0)) {
      return invalid('options.timeoutMs', 'a number >= 0', timeoutMs);
    }
    return this.#acquire(tenantId, priority ?? 0, signal, timeoutMs, work);
  }

  /**
   * Takes a slot now or refuses now, synchronously and without waiting in the queue; the
   * refusal is a value, not a thrown error, so a refusal costs next to nothing. Needs a
   * synchronous store (the memory store); with a shared store use `acquire()`.
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
    const tenantId = request.tenantId ?? DEFAULT_TENANT;
    if (typeof tenantId !== 'string' || tenantId.length === 0) {
      throw new ConfigError(
        'request.tenantId',
        `must be a non-empty string, got ${describeValue(tenantId)}`,
      );
    }
    if (this.#state !== 'open') return this.#refusal(tenantId, 'draining', undefined);
    if (this.#health !== undefined && !this.#health.open) {
      return this.#refusal(tenantId, 'unhealthy', this.#health.retryAfterMs());
    }
    let blockedBy: RefusalReason = 'capacity';
    const waiting =
      this.#queue.sizeOf(tenantId) > 0 || (this.#globalBlocked && this.#queue.size > 0);
    if (!waiting) {
      const result = this.#tryStore(tenantId) as AcquireResult;
      if (!isRefusal(result)) return this.#grant(result, 0);
      this.#noteRefusal(tenantId, result.refused);
      blockedBy = result.refused;
    }
    return this.#refusal(tenantId, blockedBy, this.#estimateRetry(tenantId, blockedBy));
  }

  #refusal(
    tenantId: string,
    code: AdmissionErrorCode,
    retryAfterMs: number | undefined,
  ): AdmissionRefusal {
    this.#emitRefused(tenantId, code, retryAfterMs);
    return { code, tenantId, retryAfterMs };
  }

  /** Resolves with the slot, or, with `work`, with what `work` returns while holding it. */
  #acquire(
    tenantId: string,
    priority: number,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    work: Work,
  ): Promise<unknown> {
    const closed = this.#refusalBeforeQueue(tenantId);
    if (closed !== undefined) return rejectSoon(closed);
    if (signal?.aborted) return rejectSoon(this.#refuse(tenantId, 'aborted', signal.reason));

    // Waiters of this tenant go first (FIFO); so do waiters held back by the global cap.
    const mustQueue =
      this.#queue.sizeOf(tenantId) > 0 || (this.#globalBlocked && this.#queue.size > 0);
    if (mustQueue) {
      return this.#enqueueOrRefuse(tenantId, priority, signal, timeoutMs, 'capacity', work);
    }

    const result = this.#tryStore(tenantId);
    if (!isPromise(result)) {
      return this.#afterDirectAttempt(result, tenantId, priority, signal, timeoutMs, work);
    }
    return result.then(
      (settled) => {
        // The world may have moved while the store answered: honour aborts and drains.
        if (!isRefusal(settled) && (signal?.aborted || this.#state !== 'open')) {
          this.#releaseLease(settled);
          throw signal?.aborted
            ? this.#refuse(tenantId, 'aborted', signal.reason)
            : this.#refuse(tenantId, 'draining');
        }
        return this.#afterDirectAttempt(settled, tenantId, priority, signal, timeoutMs, work);
      },
      (error: unknown) => {
        throw this.#storeUnavailable(tenantId, error);
      },
    );
  }

  #afterDirectAttempt(
    result: AcquireResult,
    tenantId: string,
    priority: number,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    work: Work,
  ): Promise<unknown> {
    if (!isRefusal(result)) return deliver(this.#grant(result, 0), work);
    this.#noteRefusal(tenantId, result.refused);
    return this.#enqueueOrRefuse(tenantId, priority, signal, timeoutMs, result.refused, work);
  }

  /** Refusals decided without touching the store: draining, unhealthy. */
  #refusalBeforeQueue(tenantId: string): AdmissionError | undefined {
    if (this.#state !== 'open') return this.#refuse(tenantId, 'draining');
    if (this.#health !== undefined && !this.#health.open) {
      const reason = this.#health.status?.reason;
      return this.#refuse(tenantId, 'unhealthy', reason, this.#health.retryAfterMs());
    }
    return undefined;
  }

  #enqueueOrRefuse(
    tenantId: string,
    priority: number,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    blockedBy: RefusalReason,
    work: Work,
  ): Promise<unknown> {
    const queue = this.#queueConfig;
    const wait = timeoutMs ?? queue.timeoutMs;
    if (queue.maxSize === 0 || wait === 0) {
      return rejectSoon(
        this.#refuse(tenantId, blockedBy, undefined, this.#estimateRetry(tenantId, blockedBy)),
      );
    }
    if (this.#queue.size >= queue.maxSize || this.#queue.sizeOf(tenantId) >= queue.maxPerTenant) {
      return rejectSoon(
        this.#refuse(tenantId, 'queue_full', undefined, this.#estimateRetry(tenantId, 'capacity')),
      );
    }
    const waiter = new Waiter(tenantId, performance.now(), wait, work);
    const promise = waiter.promise();
    this.#queue.push(waiter, priority);
    if (wait !== Number.POSITIVE_INFINITY) this.#deadlines.add(waiter, wait);
    if (signal !== undefined) {
      waiter.detach = onAbort(signal, () => this.#leaveQueue(waiter, 'aborted', signal.reason));
    }
    if (this.hasListeners('queued')) this.emit('queued', { tenantId, depth: this.#queue.size });
    return promise;
  }

  #expire(waiter: Waiter): void {
    this.#leaveQueue(waiter, 'queue_timeout');
  }

  /** A waiter leaves without a slot (timeout, abort, drain, store failure). */
  #leaveQueue(waiter: Waiter, outcome: Exclude<DequeueOutcome, 'admitted'>, cause?: unknown): void {
    if (waiter.state === 'done') return;
    waiter.state = 'done';
    waiter.detach();
    this.#queue.remove(waiter);
    this.#deadlines.trim(waiter.waitMs);
    const { tenantId } = waiter;
    this.#emitDequeued(waiter, outcome);
    let error: AdmissionError;
    if (outcome === 'aborted') error = this.#refuse(tenantId, 'aborted', cause);
    else if (outcome === 'store_unavailable') error = this.#storeUnavailable(tenantId, cause);
    else if (outcome === 'draining') error = this.#refuse(tenantId, 'draining');
    else
      error = this.#refuse(
        tenantId,
        'queue_timeout',
        undefined,
        this.#estimateRetry(tenantId, 'capacity'),
      );
    waiter.reject(error);
  }

  // ---------------------------------------------------------------- granting

  #tryStore(tenantId: string): SyncOrAsync<AcquireResult> {
    // The adaptive limit is this instance's own; the store holds the shared hard cap.
    if (this.#adaptive !== undefined && this.#active >= this.#adaptive.current)
      return ADAPTIVE_FULL;
    const request = { tenantId, globalLimit: this.#limit, tenantLimit: this.tenantLimit(tenantId) };
    try {
      return this.#store.tryAcquire(request);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #grant(lease: Lease, waitedMs: number): Slot {
    this.#active++;
    let hold = this.#holds.get(lease.tenantId);
    if (hold === undefined) {
      hold = { tenantId: lease.tenantId, active: 0 };
      this.#holds.set(lease.tenantId, hold);
    }
    hold.active++;
    const slot = new Slot(lease, hold, waitedMs, this.#releaseSlot);
    this.#slots.add(slot);
    if (this.hasListeners('admitted')) {
      this.emit('admitted', { tenantId: lease.tenantId, waitedMs, active: this.#active });
    }
    return slot;
  }

  #onRelease(slot: Slot): void {
    const { hold } = slot;
    this.#slots.remove(slot);
    this.#active--;
    hold.active--;
    if (hold.active === 0 && this.#holds.size > IDLE_HOLDS_KEPT) this.#sweepIdleHolds();
    const heldMs = performance.now() - slot.acquiredAt;
    this.#retry.recordHold(heldMs);
    if (this.hasListeners('released')) {
      this.emit('released', { tenantId: hold.tenantId, heldMs, active: this.#active });
    }
    const released = this.#releaseLease(slot.lease);
    if (isPromise(released)) void released.then(() => this.#capacityMayHaveFreed(hold.tenantId));
    else this.#capacityMayHaveFreed(hold.tenantId);
    if (this.#active === 0) {
      this.#onIdle?.();
      if (this.#state === 'drained') this.#detachTelemetry();
    }
  }

  #sweepIdleHolds(): void {
    for (const [tenantId, hold] of this.#holds) {
      if (hold.active === 0) this.#holds.delete(tenantId);
    }
  }

  #releaseLease(lease: Lease): SyncOrAsync<void> {
    try {
      const released = this.#store.release(lease);
      if (!isPromise(released)) return undefined;
      return released.catch((error: unknown) => this.#storeError('release', error));
    } catch (error) {
      this.#storeError('release', error);
      return undefined;
    }
  }

  /** The store no longer counts this slot: stop what it admitted, so the cap holds. */
  #leaseLost(lease: Lease): void {
    const slot = this.#slots.toArray().find((held) => held.lease === lease);
    if (slot === undefined) return;
    this.emit('lease_lost', { tenantId: slot.tenantId, sessionId: slot.session?.id });
    if (slot.session !== undefined) void slot.session.close('lease_lost');
    else slot.revoke(new AdmissionError('store_unavailable', 'the shared store dropped this slot'));
  }

  /** A slot was released here or elsewhere: waiters may proceed. */
  #capacityMayHaveFreed(tenantId?: string): void {
    this.#globalBlocked = false;
    if (this.#blockedTenants.size > 0) {
      if (tenantId === undefined) this.#blockedTenants.clear();
      else this.#blockedTenants.delete(tenantId);
    }
    if (this.#queue.size > 0) this.#pump();
  }

  /** Grants queued waiters while the store allows, round-robin across tenants. */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpOnce(): void {
    if (this.#asyncGrantInFlight || this.#state !== 'open') return;
    if (this.#health !== undefined && !this.#health.open) return;
    for (;;) {
      const waiter = this.#queue.next(this.#isBlocked, this.#heldBy);
      if (waiter === undefined) return;
      const result = this.#tryStore(waiter.tenantId);
      if (isPromise(result)) {
        this.#awaitGrant(waiter, result);
        return;
      }
      if (!this.#settleAttempt(waiter, result)) return;
    }
  }

  /** Applies a store answer for a queued waiter; returns false when nobody else can proceed. */
  #settleAttempt(waiter: Waiter, result: AcquireResult): boolean {
    if (isRefusal(result)) {
      this.#noteRefusal(waiter.tenantId, result.refused);
      return result.refused === 'tenant_capacity';
    }
    waiter.state = 'done';
    waiter.detach();
    this.#queue.served(waiter);
    this.#deadlines.trim(waiter.waitMs);
    const waitedMs = performance.now() - waiter.enqueuedAt;
    this.#emitDequeued(waiter, 'admitted');
    waiter.grant(this.#grant(result, waitedMs));
    return true;
  }

  /** A shared store answers later: hold the pump until it does, then carry on. */
  #awaitGrant(waiter: Waiter, pending: Promise<AcquireResult>): void {
    this.#asyncGrantInFlight = true;
    waiter.state = 'acquiring';
    pending.then(
      (result) => {
        this.#asyncGrantInFlight = false;
        if (waiter.state === 'done') {
          // The waiter left (abort, timeout, drain) while the store decided.
          if (!isRefusal(result)) this.#releaseLease(result);
        } else {
          waiter.state = 'queued';
          this.#settleAttempt(waiter, result);
        }
        this.#pump();
      },
      (error: unknown) => {
        this.#asyncGrantInFlight = false;
        if (waiter.state !== 'done') {
          waiter.state = 'queued';
          this.#leaveQueue(waiter, 'store_unavailable', error);
        }
        this.#pump();
      },
    );
  }

  #noteRefusal(tenantId: string, reason: RefusalReason): void {
    if (reason === 'capacity') this.#globalBlocked = true;
    else this.#blockedTenants.add(tenantId);
  }

  // ---------------------------------------------------------------- refusals

  #refuse(
    tenantId: string,
    code: AdmissionErrorCode,
    cause?: unknown,
    retryAfterMs?: number,
  ): AdmissionError {
    this.#emitRefused(tenantId, code, retryAfterMs);
    return new AdmissionError(
      code,
      refusalMessage(code, tenantId, this.limit, this.tenantLimit(tenantId)),
      {
        tenantId,
        retryAfterMs,
        cause,
      },
    );
  }

  #storeUnavailable(tenantId: string, error: unknown): AdmissionError {
    this.#storeError('acquire', error);
    return this.#refuse(tenantId, 'store_unavailable', error, 1_000);
  }

  #storeError(operation: 'acquire' | 'release' | 'bind', error: unknown): void {
    if (this.hasListeners('store_error')) this.emit('store_error', { operation, error });
    else
      process.emitWarning(
        error instanceof Error ? error : new Error(String(error)),
        'VoiceAdmissionStoreWarning',
      );
  }

  #emitRefused(tenantId: string, code: AdmissionErrorCode, retryAfterMs: number | undefined): void {
    if (this.hasListeners('refused')) this.emit('refused', { tenantId, code, retryAfterMs });
  }

  #emitDequeued(waiter: Waiter, outcome: DequeueOutcome): void {
    if (this.hasListeners('dequeued')) {
      this.emit('dequeued', {
        tenantId: waiter.tenantId,
        waitedMs: performance.now() - waiter.enqueuedAt,
        outcome,
      });
    }
  }

  #estimateRetry(tenantId: string, blockedBy: RefusalReason): number {
    if (blockedBy === 'tenant_capacity') {
      const limit = this.tenantLimit(tenantId);
      return this.#retry.retryAfterMs(
        this.#queue.sizeOf(tenantId) + 1,
        limit === Number.POSITIVE_INFINITY ? 1 : limit,
      );
    }
    return this.#retry.retryAfterMs(this.#queue.size + 1, this.limit);
  }

  // ---------------------------------------------------------------- health

  #onHealthChange(status: HealthStatus, previous: HealthStatus | undefined): void {
    const admitting = this.#health?.open ?? true;
    this.emit('health', { status, previous, admitting });
    if (admitting) this.#capacityMayHaveFreed();
  }

  /** Runs a health check now instead of waiting for the next interval. */
  checkHealth(): Promise<HealthStatus> {
    if (this.#health === undefined) return this.backend.healthCheck();
    return this.#health.checkNow();
  }

  // ---------------------------------------------------------------- limits

  /** Changes caps at run time. Lowering never evicts; raising lets waiters in at once. */
  setLimits(update: LimitsUpdate): void {
    const value = objectOrUndefined('update', update) ?? {};
    knownKeys('update', value, ['maxConcurrentSessions', 'tenants']);
    const limit = numberField('update.maxConcurrentSessions', value.maxConcurrentSessions, {
      min: 1,
      integer: true,
    });
    if (value.tenants !== undefined) {
      const tenants = objectOrUndefined('update.tenants', value.tenants) ?? {};
      const parsed = resolveTenantLimits('update.tenants', tenants);
      if (tenants.defaultMax !== undefined) this.#tenantDefaultMax = parsed.defaultMax;
      if (tenants.max !== undefined) this.#tenantMax = parsed.max;
    }
    if (limit !== undefined) this.#limit = limit;
    this.#limitsChanged();
  }

  /** Reports the limits now in force and lets waiters in if they rose. */
  #limitsChanged(tenantId?: string): void {
    if (this.hasListeners('limits')) {
      this.emit('limits', {
        maxConcurrentSessions: this.#limit,
        limit: this.limit,
        setupConcurrency: this.#smoother.concurrency,
      });
    }
    this.#capacityMayHaveFreed(tenantId);
  }

  /** Sets one tenant's cap; `undefined` returns it to the default. */
  setTenantLimit(tenantId: string, max: number | undefined): void {
    if (max === undefined) this.#tenantMax.delete(tenantId);
    else
      this.#tenantMax.set(
        tenantId,
        numberField(`tenants.max.${tenantId}`, max, { min: 0, integer: true, infinite: true }, 0),
      );
    this.#limitsChanged(tenantId);
  }

  // ---------------------------------------------------------------- stats

  stats(): AdmissionStats {
    const tenantIds = new Set(this.#queue.tenants());
    for (const [tenantId, hold] of this.#holds) if (hold.active > 0) tenantIds.add(tenantId);
    const tenants = [...tenantIds].sort().map((tenantId) => ({
      tenantId,
      active: this.#heldBy(tenantId),
      queued: this.#queue.sizeOf(tenantId),
      limit: this.tenantLimit(tenantId),
    }));
    return {
      state: this.#state,
      active: this.#active,
      queued: this.#queue.size,
      settingUp: this.#setups.size,
      limit: this.limit,
      maxConcurrentSessions: this.#limit,
      setupConcurrency: this.#smoother.concurrency,
      utilization: this.#active / this.limit,
      admitting: this.#state === 'open' && (this.#health?.open ?? true),
      health: this.#health?.status,
      tenants,
    };
  }

  /** Slots held by this instance. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting in this instance's queue. */
  get queued(): number {
    return this.#queue.size;
  }

  // ---------------------------------------------------------------- drain

  /**
   * Stops admitting (new requests and queued ones get `draining`), waits up to `timeoutMs`
   * for held slots to be released, then closes the remaining sessions (reason `drained`),
   * aborts setups under way and signals raw slot holders. Idempotent.
   */
  drain(options: DrainOptions = {}): Promise<DrainResult> {
    if (this.#draining !== undefined) return this.#draining;
    const value = objectOrUndefined('options', options) ?? {};
    knownKeys('options', value, ['timeoutMs', 'closeTimeoutMs']);
    const timeoutMs = numberField('options.timeoutMs', value.timeoutMs, { min: 0 }, 30_000);
    const closeTimeoutMs = numberField(
      'options.closeTimeoutMs',
      value.closeTimeoutMs,
      { min: 0 },
      5_000,
    );
    const started = performance.now();
    const activeAtStart = this.#active;
    this.#state = 'draining';
    this.#health?.stop();
    this.emit('draining', { active: this.#active, queued: this.#queue.size });
    const waiters = this.#queue.removeAll();
    for (const waiter of waiters) this.#leaveQueue(waiter, 'draining');
    this.#deadlines.clear();
    this.#draining = this.#finishDrain(timeoutMs, closeTimeoutMs).then(
      ({ closed, aborted, revoked, timedOut }) => {
        this.#state = 'drained';
        this.#unsubscribeStore();
        // Slots still held report their release first: gauges and counters end at zero.
        if (this.#active === 0) this.#detachTelemetry();
        const result: DrainResult = {
          timedOut,
          activeAtStart,
          rejectedWaiters: waiters.length,
          closedAtDeadline: closed,
          abortedSetups: aborted,
          revokedSlots: revoked,
          stillActive: this.#active,
          durationMs: performance.now() - started,
        };
        this.emit('drained', result);
        return result;
      },
    );
    return this.#draining;
  }

  async #finishDrain(
    timeoutMs: number,
    closeTimeoutMs: number,
  ): Promise<{ closed: number; aborted: number; revoked: number; timedOut: boolean }> {
    if (await this.#idleWithin(timeoutMs)) {
      return { closed: 0, aborted: 0, revoked: 0, timedOut: false };
    }
    const error = new AdmissionError('draining', 'the drain deadline was reached');
    const aborted = this.#setups.size;
    this.#setups.abortAll(error);
    let revoked = 0;
    const closes: Promise<unknown>[] = [];
    for (const slot of this.#slots.toArray()) {
      if (slot.session !== undefined) closes.push(slot.session.close('drained'));
      else if (!this.#setups.has(slot)) {
        revoked++;
        slot.revoke(error);
      }
    }
    await settledWithin(Promise.allSettled(closes), closeTimeoutMs);
    return { closed: closes.length, aborted, revoked, timedOut: true };
  }

  // The drain's timers are not unref'ed: a drain under way is work the process must finish
  // (closing sessions at the deadline), even once its servers are closed. Both are cleared
  // when the drain ends, so nothing is left keeping the process alive afterwards.
  #idleWithin(timeoutMs: number): Promise<boolean> {
    if (this.#active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onIdle = undefined;
        resolve(false);
      }, timeoutMs);
      this.#onIdle = () => {
        clearTimeout(timer);
        this.#onIdle = undefined;
        resolve(true);
      };
    });
  }
}

function deliver(slot: Slot, work: Work): Promise<unknown> {
  return work === undefined ? Promise.resolve(slot) : runHolding(slot, work);
}

const ADAPTIVE_FULL: Refusal = Object.freeze({ refused: 'capacity' });

const NO_REQUEST: SlotRequest = Object.freeze({});
const NO_OPTIONS: AcquireOptions = Object.freeze({});

import type { VoiceBackend } from '../../iface/backend.js';
import { AdmissionError, BackendError, ConfigError } from '../../iface/errors.js';
import type { SessionConfig, SessionEndReason, VoiceSession } from '../../iface/session.js';
import { onAbort } from '../../internal/abort.js';
import { tenantOf } from '../../internal/session-config.js';
import { describeValue } from '../../internal/validate.js';
import { emitFailureWarning } from '../../internal/warning.js';
import type { AdaptiveLimit } from '../adaptive/adaptive-limit.js';
import type { EventSink } from '../events.js';
import type { Gate } from '../gate/gate.js';
import type { Refusals } from '../gate/refusals.js';
import type { Slot } from '../gate/slot.js';
import type { CapacityStore } from '../store/capacity-store.js';
import type { AdmissionSpan, AdmissionSpanResult, AdmissionTracer } from '../tracer.js';
import type { CreateSessionOptions } from '../types.js';
import { Creation, KeyedCreations } from './creation.js';
import type { SetupSmoother } from './setup-smoother.js';

export interface SessionFlowOptions {
  readonly backend: VoiceBackend;
  readonly gate: Gate;
  readonly store: CapacityStore;
  readonly refusals: Refusals;
  readonly events: EventSink;
  readonly smoother: SetupSmoother;
  /** A setup taking longer is cancelled with a `timeout` BackendError; `Infinity` for none. */
  readonly setupTimeoutMs: number;
  /** Adaptive limits fed with each setup the backend itself finished. */
  readonly sessionLimit: AdaptiveLimit | undefined;
  readonly setupLimit: AdaptiveLimit | undefined;
  readonly tracer: AdmissionTracer | undefined;
}

/** When a backend create started, and how many setups were running then. */
interface SetupStart {
  readonly at: number;
  readonly setups: number;
}

/**
 * One session request's life, from the idempotency check to the release of its slot:
 * idempotency -> gate -> claim -> smoothed setup -> bind -> release, with its span ended once.
 *
 * The slot is released only once everything it paid for is gone: the backend's create has
 * settled and, when nobody receives the session (the callers left, the setup timed out, a
 * drain reached its deadline, the store dropped the slot), that session has been closed.
 * Callers are answered at once whatever the backend does.
 */
export class SessionFlow {
  readonly #options: SessionFlowOptions;
  readonly #keys = new KeyedCreations();
  /** Slots held by a creation, from their grant until they are released (counts, no sets). */
  #holding = 0;
  /** Of those, the slots in their setup phase, and the slots bound to a live session. */
  #settingUp = 0;
  readonly #bound = new Map<Slot, VoiceSession>();
  /** Aborts when a drain begins: callers waiting for their key are refused `draining`. */
  readonly #closing = new AbortController();
  /** Callers waiting for an abandoned creation of their key to be over. */
  #keyWaiters = 0;
  readonly #answered = (tenantId: string, error: unknown): void =>
    this.#reportRefused(tenantId, error);
  readonly #abortedBy =
    (tenantId: string) =>
    (signal: AbortSignal, inSetup: boolean): AdmissionError =>
      this.#options.refusals.aborted(tenantId, signal.reason, inSetup);

  constructor(options: SessionFlowOptions) {
    this.#options = options;
  }

  /** Sessions in their setup phase (holding a slot, backend create under way or waiting). */
  get settingUp(): number {
    return this.#settingUp;
  }

  /** Sessions created here and not yet closed. */
  get live(): number {
    return this.#bound.size;
  }

  /** Slots held by creations (setting up, live, or closing a session nobody received). */
  get holding(): number {
    return this.#holding;
  }

  /**
   * A drain began: callers waiting for an abandoned creation of their key are refused
   * `draining` at once, as the gate's waiters are, and so is every caller who would wait so
   * from now on. Returns how many were waiting.
   */
  close(): number {
    const waiting = this.#keyWaiters;
    this.#closing.abort();
    return waiting;
  }

  /** The session bound to `slot`, if any. */
  sessionOf(slot: Slot): VoiceSession | undefined {
    return this.#bound.get(slot);
  }

  /** Admits and creates a session for one caller (config and options already validated). */
  async create(config: SessionConfig, options: CreateSessionOptions): Promise<VoiceSession> {
    const tenantId = tenantOf(config);
    const key = config.idempotencyKey;
    // One bound on the wait for a slot, however much of it is spent waiting for the key.
    const deadline = this.#queueDeadline(options);
    if (key === undefined) return this.#start(config, options, undefined, deadline);
    let waited = false;
    for (;;) {
      const existing = this.#keys.get(tenantId, key);
      if (existing === undefined) {
        return this.#start(
          config,
          waited ? untilDeadline(options, deadline) : options,
          key,
          deadline,
        );
      }
      if (existing.userId !== config.userId) {
        const error = this.#options.refusals.duplicate(tenantId, existing.session?.id, false);
        this.#reportRefused(tenantId, error);
        throw error;
      }
      if (existing.joinable) return existing.join(options.signal, deadline);
      // Its callers left or it was cancelled, but its session may still be open: the key is
      // free only once that is over, and its slot with it. Until then this caller waits as for
      // a slot, no longer than its bound on that wait.
      if (options.signal?.aborted) throw this.#rejectAborted(tenantId, options.signal);
      const waitEnded = this.#closing.signal.aborted
        ? 'closing'
        : await this.#waitUntilGone(existing, options.signal, deadline);
      if (waitEnded !== 'over') {
        const error =
          waitEnded === 'closing'
            ? this.#options.refusals.error(tenantId, 'draining')
            : this.#options.gate.queueTimeout(tenantId);
        this.#reportRefused(tenantId, error);
        throw error;
      }
      waited = true;
    }
  }

  /** Starts a creation with its first caller; returns that caller's wait. */
  #start(
    config: SessionConfig,
    options: CreateSessionOptions,
    key: string | undefined,
    queueDeadline: number,
  ): Promise<VoiceSession> {
    const tenantId = tenantOf(config);
    const creation = new Creation(
      tenantId,
      config.userId,
      this.#answered,
      this.#abortedBy(tenantId),
      () => this.#options.gate.queueTimeout(tenantId),
    );
    if (key !== undefined) this.#keys.hold(key, creation);
    const joined = creation.join(options.signal, queueDeadline);
    void this.#run(creation, config, options, key);
    return joined;
  }

  /**
   * Runs one creation to its end: the span is ended here and only here, once the callers have
   * their answer; the creation ends, and the returned promise settles, once the slot is
   * released.
   */
  async #run(
    creation: Creation,
    config: SessionConfig,
    options: CreateSessionOptions,
    key: string | undefined,
  ): Promise<void> {
    try {
      const span = this.#options.tracer?.startAdmission({
        tenantId: creation.tenantId,
        userId: config.userId,
      });
      const { result, released } = await this.#admitAndSetUp(creation, config, options, key, span);
      span?.end(result);
      await released;
    } finally {
      creation.end();
    }
  }

  async #admitAndSetUp(
    creation: Creation,
    config: SessionConfig,
    options: CreateSessionOptions,
    key: string | undefined,
    span: AdmissionSpan | undefined,
  ): Promise<Outcome> {
    const { store } = this.#options;
    let slot: Slot;
    try {
      slot = await this.#acquire(creation, options);
      creation.admitted();
    } catch (error) {
      creation.fail(error);
      return this.#ended(error, 0);
    }
    this.#holding++;
    const claimKey = key === undefined ? undefined : `${creation.tenantId}\n${key}`;
    if (claimKey !== undefined && store.claim !== undefined) {
      const refused = await this.#claim(slot, claimKey);
      if (refused !== undefined || creation.signal.aborted) {
        this.#release(slot);
        if (refused !== undefined) creation.fail(refused);
        return this.#ended(refused ?? creation.signal.reason, slot.waitedMs);
      }
    }
    return this.#setUp(creation, config, slot, claimKey, span);
  }

  /**
   * Waits for a slot, as long as the first caller's `timeoutMs` allows and then, for callers
   * who joined with a longer bound of their own, on until the latest of theirs: a retry is
   * refused by its own bound, not by the one of the request it joined.
   */
  async #acquire(creation: Creation, options: CreateSessionOptions): Promise<Slot> {
    const { gate } = this.#options;
    let timeoutMs = options.timeoutMs;
    for (;;) {
      try {
        return (await gate.acquire({
          tenantId: creation.tenantId,
          priority: options.priority ?? 0,
          signal: creation.signal,
          timeoutMs,
          work: undefined,
          reportRefusal: false,
        })) as Slot;
      } catch (error) {
        if (!(error instanceof AdmissionError) || !overdue(error, gate.queueWaitMs(timeoutMs))) {
          throw error;
        }
        const now = performance.now();
        const latest = creation.refuseOverdue(error, now);
        if (latest === undefined) throw error;
        timeoutMs = latest - now;
      }
    }
  }

  /** When a caller asking with `options` would rather be refused than wait on for a slot. */
  #queueDeadline(options: CreateSessionOptions): number {
    return performance.now() + this.#options.gate.queueWaitMs(options.timeoutMs);
  }

  /** Claims the key in a shared store, so another instance cannot create a second session. */
  async #claim(slot: Slot, key: string): Promise<AdmissionError | undefined> {
    const { refusals, gate, store } = this.#options;
    try {
      const claim = await store.claim!(slot.lease, key);
      return claim.claimed ? undefined : refusals.duplicate(slot.tenantId, claim.sessionId, true);
    } catch (cause) {
      gate.reportStoreError('acquire', cause);
      return refusals.error(slot.tenantId, 'store_unavailable', { cause, retryAfterMs: 1_000 });
    }
  }

  async #setUp(
    creation: Creation,
    config: SessionConfig,
    slot: Slot,
    claimKey: string | undefined,
    span: AdmissionSpan | undefined,
  ): Promise<Outcome> {
    const { backend, smoother } = this.#options;
    const stopTimer = this.#setupTimer(creation);
    // A drain deadline or a lost lease stops the setup too.
    slot.watchRevoke((reason) => creation.cancel(reason));
    this.#settingUp++;
    const started = performance.now();
    let start: SetupStart | undefined;
    const create = (): Promise<VoiceSession> => {
      start = { at: performance.now(), setups: smoother.running };
      // A backend answering inside the call (a session, or a throw) is awaited like one that
      // answers with a promise: the span around it chains on the promise, and a session it
      // failed on there would stay open with its slot given back.
      return new Promise((resolve) =>
        resolve(backend.createSession(config, creation.backendOptions)),
      );
    };
    let session: VoiceSession;
    try {
      session = await smoother.run(
        span === undefined ? create : () => span.runCreate(create),
        creation.signal,
      );
      // Handed on and bound by its `closed`: anything else would hold its slot for good.
      if (!isSession(session)) throw notASession(session, backend.provider);
    } catch (caught) {
      stopTimer();
      slot.watchRevoke(undefined);
      this.#settingUp--;
      // The backend's create has settled (or never started): nothing is left to pay for.
      this.#release(slot);
      const error = this.#nameFailure(caught, creation);
      // Admission stopping a setup says nothing about the backend's capacity, nor does a
      // config the backend refused as the caller's error.
      if (start !== undefined && !creation.signal.aborted && !(caught instanceof ConfigError)) {
        this.#learn(slot, start, true);
      }
      this.#emitFailed(creation.tenantId, started, error);
      creation.fail(error);
      return this.#ended(error, slot.waitedMs);
    }
    stopTimer();
    slot.watchRevoke(undefined);
    this.#settingUp--;
    if (start !== undefined) this.#learn(slot, start, false);

    if (!creation.deliver(session)) {
      // Nobody receives it: close it, and only then give the slot back.
      const reason = creation.signal.reason;
      this.#emitFailed(creation.tenantId, started, reason);
      closeSession(session, endReasonFor(reason));
      await whenEnded(session, () => this.#release(slot));
      return this.#ended(reason, slot.waitedMs);
    }
    const released = this.#bind(creation, slot, session, claimKey);
    const { events } = this.#options;
    if (events.wants('session_created')) {
      events.emit('session_created', {
        tenantId: creation.tenantId,
        sessionId: session.id,
        provider: backend.provider,
        durationMs: performance.now() - started,
      });
    }
    const result: AdmissionSpanResult = {
      outcome: 'admitted',
      waitedMs: slot.waitedMs,
      active: this.#options.gate.active,
      sessionId: session.id,
    };
    // The creation (and its key) lasts until the session is closed and its slot released.
    return { result, released };
  }

  /**
   * Ties the slot to the session: released once it closes; a revoked slot closes it.
   * Returns the promise of that release.
   */
  #bind(
    creation: Creation,
    slot: Slot,
    session: VoiceSession,
    claimKey: string | undefined,
  ): Promise<void> {
    const { store, gate } = this.#options;
    this.#bound.set(slot, session);
    slot.watchRevoke((reason) => {
      creation.sessionEnding();
      closeSession(session, endReasonFor(reason));
    });
    const released = whenEnded(session, () => {
      creation.sessionEnding();
      slot.watchRevoke(undefined);
      this.#bound.delete(slot);
      this.#release(slot);
    });
    if (claimKey !== undefined && store.bindSession !== undefined) {
      store
        .bindSession(slot.lease, claimKey, session.id)
        .catch((error: unknown) => gate.reportStoreError('bind', error));
    }
    return released;
  }

  #release(slot: Slot): void {
    if (slot.released) return;
    // Counted out first: whoever the release wakes (a drain) sees the slot gone.
    this.#holding--;
    slot.release();
  }

  /** Cancels the creation with a `timeout` BackendError after `setupTimeoutMs`. */
  #setupTimer(creation: Creation): () => void {
    const { setupTimeoutMs, backend } = this.#options;
    if (setupTimeoutMs === Number.POSITIVE_INFINITY) return noTimer;
    const timer = setTimeout(() => {
      creation.cancel(
        new BackendError(
          'timeout',
          'create_session',
          `session setup took longer than ${setupTimeoutMs} ms`,
          { provider: backend.provider },
        ),
      );
    }, setupTimeoutMs);
    timer.unref();
    return () => clearTimeout(timer);
  }

  #learn(slot: Slot, start: SetupStart, failed: boolean): void {
    const latencyMs = performance.now() - start.at;
    this.#options.sessionLimit?.record({ latencyMs, failed, inflight: slot.inflight });
    this.#options.setupLimit?.record({ latencyMs, failed, inflight: start.setups });
  }

  /** Names a failed setup by what stopped it: the cancel (a typed error), or the backend. */
  #nameFailure(caught: unknown, creation: Creation): unknown {
    return creation.signal.aborted ? creation.signal.reason : caught;
  }

  /** How a creation that handed out no session ended, for its span. */
  #ended(error: unknown, waitedMs: number): Outcome {
    return {
      result: {
        outcome: error instanceof AdmissionError ? error.code : 'create_failed',
        waitedMs,
        active: this.#options.gate.active,
        error,
      },
      released: DONE,
    };
  }

  /**
   * Waits until `creation` is over or `signal` aborts (`over`, either way: the caller looks
   * again), `deadline` (a `performance.now()` time) passes (`overdue`), or a drain begins
   * (`closing`), whichever comes first.
   */
  async #waitUntilGone(
    creation: Creation,
    signal: AbortSignal | undefined,
    deadline: number,
  ): Promise<'over' | 'overdue' | 'closing'> {
    // Even a caller that will not wait gets one turn of the event loop: a creation whose
    // session has just closed (its `close()` resolved) gives its key back within it.
    const waitMs = Math.max(0, deadline - performance.now());
    let detachAbort = noTimer;
    let detachClosing = noTimer;
    let timer: NodeJS.Timeout | undefined;
    const stopped = new Promise<'over' | 'overdue' | 'closing'>((resolve) => {
      detachAbort = onAbort(signal, () => resolve('over'));
      detachClosing = onAbort(this.#closing.signal, () => resolve('closing'));
      // Not unref'ed: like a wait in the queue, it keeps the process up until its answer.
      if (waitMs !== Number.POSITIVE_INFINITY) timer = setTimeout(() => resolve('overdue'), waitMs);
    });
    this.#keyWaiters++;
    try {
      return await Promise.race([creation.gone.then(() => 'over' as const), stopped]);
    } finally {
      this.#keyWaiters--;
      detachAbort();
      detachClosing();
      clearTimeout(timer);
    }
  }

  #rejectAborted(tenantId: string, signal: AbortSignal): AdmissionError {
    const error = this.#options.refusals.aborted(tenantId, signal.reason);
    this.#reportRefused(tenantId, error);
    return error;
  }

  #emitFailed(tenantId: string, started: number, error: unknown): void {
    const { events, backend } = this.#options;
    if (events.wants('session_failed')) {
      events.emit('session_failed', {
        tenantId,
        provider: backend.provider,
        durationMs: performance.now() - started,
        error,
      });
    }
  }

  /** One `refused` per caller handed an AdmissionError. */
  #reportRefused(tenantId: string, error: unknown): void {
    const { events } = this.#options;
    if (error instanceof AdmissionError && events.wants('refused')) {
      events.emit('refused', { tenantId, code: error.code, retryAfterMs: error.retryAfterMs });
    }
  }
}

/** A creation's span result, and the promise of its slot's release. */
interface Outcome {
  readonly result: AdmissionSpanResult;
  readonly released: Promise<void>;
}

const DONE: Promise<void> = Promise.resolve();

/** `options` with what is left, at `deadline`, of its bound on the wait for a slot. */
function untilDeadline(options: CreateSessionOptions, deadline: number): CreateSessionOptions {
  if (deadline === Number.POSITIVE_INFINITY) return options;
  return { ...options, timeoutMs: Math.max(0, deadline - performance.now()) };
}

function noTimer(): void {}

/**
 * Whether a request was refused for its bound on the wait for a slot: it ran out, or was 0
 * (a request that would not wait is refused at once with what held it back). Callers who
 * joined it with a longer bound of their own wait on.
 */
function overdue(error: AdmissionError, waitMs: number): boolean {
  if (error.code === 'queue_timeout') return true;
  return waitMs === 0 && (error.code === 'capacity' || error.code === 'tenant_capacity');
}

/**
 * Closes a session nobody will use; a failing close is reported, never dropped. A close that
 * throws instead of rejecting is reported alike: it must not unwind the release that waits on
 * `session.closed`, nor a drain revoking every slot.
 */
function closeSession(session: VoiceSession, reason: SessionEndReason): void {
  new Promise((resolve) => resolve(session.close(reason))).catch(warnOfClose);
}

/**
 * Runs `then` once `session` has ended. A `closed` that rejects, against its contract, ends
 * the session too and is reported: the slot waiting on it is released, and nothing goes
 * unhandled. A thenable `closed` is adopted first, so one whose `then` throws rejects alike.
 */
function whenEnded(session: VoiceSession, then: () => void): Promise<void> {
  return Promise.resolve(session.closed).then(then, (error: unknown) => {
    warnOfClose(error);
    then();
  });
}

function warnOfClose(error: unknown): void {
  emitFailureWarning('VoiceAdmissionCloseWarning', error);
}

/** Whether a backend's create resolved with what a session must have for its slot's sake. */
function isSession(value: unknown): value is VoiceSession {
  const session = value as Partial<VoiceSession> | null;
  return (
    typeof session === 'object' &&
    session !== null &&
    typeof session.id === 'string' &&
    typeof session.close === 'function' &&
    typeof session.closed?.then === 'function'
  );
}

function notASession(value: unknown, provider: string): BackendError {
  return new BackendError(
    'internal',
    'create_session',
    `createSession resolved with ${describeValue(value)}, not a VoiceSession (id, close(), closed)`,
    { provider },
  );
}

/** Why an undelivered or revoked session is closed. */
function endReasonFor(reason: unknown): SessionEndReason {
  if (reason instanceof AdmissionError) {
    if (reason.code === 'draining') return 'drained';
    if (reason.code === 'store_unavailable') return 'lease_lost';
  }
  return 'aborted';
}

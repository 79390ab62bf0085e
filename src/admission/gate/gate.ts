import type { AdmissionError, AdmissionErrorCode } from '../../iface/errors.js';
import { onAbort } from '../../internal/abort.js';
import { rejectSoon } from '../../internal/reject-soon.js';
import type { DequeueOutcome, EventSink } from '../events.js';
import type { HealthGate } from '../health-gate.js';
import {
  type AcquireResult,
  type CapacityStore,
  isRefusal,
  type Lease,
  type Refusal,
  type RefusalReason,
} from '../store/capacity-store.js';
import type { AdmissionRefusal } from '../types.js';
import { DeadlineQueue } from './deadline-queue.js';
import { FairQueue } from './fair-queue.js';
import type { Limits } from './limits.js';
import type { Refusals } from './refusals.js';
import { RetryEstimator } from './retry-estimator.js';
import { Slot, SlotList, type TenantHold } from './slot.js';
import { runHolding, Waiter, type Work } from './waiter.js';

type SyncOrAsync<T> = T | Promise<T>;

const ADAPTIVE_FULL: Refusal = Object.freeze({ refused: 'capacity' });

function isPromise<T>(value: SyncOrAsync<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

/** One request for a slot, as the gate takes it. */
export interface GateRequest {
  readonly tenantId: string;
  readonly priority: number;
  readonly signal: AbortSignal | undefined;
  /** Longest wait in the queue; `undefined` for the configured default. */
  readonly timeoutMs: number | undefined;
  /** Run while holding the slot (`run()`); undefined hands the slot itself over. */
  readonly work: Work;
  /**
   * Whether the gate reports a refusal (`refused`) itself. False when the caller's flow hands
   * the error on and reports it once per caller that receives it (shared keyed creations).
   */
  readonly reportRefusal: boolean;
}

export interface QueueConfig {
  readonly maxSize: number;
  readonly maxPerTenant: number;
  readonly timeoutMs: number;
}

export interface GateOptions {
  readonly store: CapacityStore;
  readonly limits: Limits;
  readonly queue: QueueConfig;
  readonly health: HealthGate | undefined;
  readonly refusals: Refusals;
  readonly events: EventSink;
  /** Called after each release (drain watches what is left). */
  readonly onRelease: () => void;
}

/**
 * Decides who gets a slot: the global, adaptive and tenant caps, the fair queue and its
 * deadlines, grants and releases, refusals and retry estimates. Knows nothing of sessions:
 * what a slot pays for is its holder's business, and a holder is told to stop through
 * `slot.signal` (drain deadline, lease lost).
 */
export class Gate {
  readonly #store: CapacityStore;
  readonly #limits: Limits;
  readonly #queueConfig: QueueConfig;
  readonly #health: HealthGate | undefined;
  readonly #refusals: Refusals;
  readonly #events: EventSink;
  readonly #afterRelease: () => void;

  #open = true;
  #active = 0;
  readonly #slots = new SlotList();
  readonly #queue = new FairQueue<Waiter>();
  readonly #deadlines = new DeadlineQueue<Waiter>((waiter) =>
    this.#leaveQueue(waiter, 'queue_timeout'),
  );
  readonly #retry = new RetryEstimator();
  /** The store refused for the global cap while requests wait; cleared likewise. */
  #globalBlocked = false;
  #pumping = false;
  #pumpAgain = false;
  #asyncGrantInFlight = false;

  readonly #releaseSlot = (slot: Slot): void => this.#onRelease(slot);

  constructor(options: GateOptions) {
    this.#store = options.store;
    this.#limits = options.limits;
    this.#queueConfig = options.queue;
    this.#health = options.health;
    this.#refusals = options.refusals;
    this.#events = options.events;
    this.#afterRelease = options.onRelease;
  }

  /** Slots held by this instance. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting in the queue. */
  get queued(): number {
    return this.#queue.size;
  }

  /** True while the gate admits (not closed by a drain, health gate open). */
  get admitting(): boolean {
    return this.#open && (this.#health?.open ?? true);
  }

  heldBy(tenantId: string): number {
    return this.#queue.heldBy(tenantId);
  }

  queuedFor(tenantId: string): number {
    return this.#queue.sizeOf(tenantId);
  }

  /** Tenants holding or waiting for a slot. */
  tenants(): Set<string> {
    return new Set(this.#queue.tenants());
  }

  /** The slot holding `lease`, if this instance holds it. */
  slotOf(lease: Lease): Slot | undefined {
    return this.#slots.toArray().find((held) => held.lease === lease);
  }

  /** Resolves with the slot, or, with `work`, with what `work` returns while holding it. */
  acquire(request: GateRequest): Promise<unknown> {
    const { tenantId, signal } = request;
    const closed = this.#refusalBeforeQueue(request);
    if (closed !== undefined) return rejectSoon(closed);
    if (signal?.aborted) {
      return rejectSoon(this.#refuse(request, 'aborted', { cause: signal.reason }));
    }

    // Waiters of this tenant go first (FIFO); so do waiters held back by the global cap.
    if (this.#mustQueue(tenantId)) return this.#enqueueOrRefuse(request, 'capacity');

    const result = this.#tryStore(tenantId);
    if (!isPromise(result)) return this.#afterDirectAttempt(request, result);
    return result.then(
      (settled) => {
        // The world may have moved while the store answered: honour aborts and drains.
        if (!isRefusal(settled) && (signal?.aborted || !this.#open)) {
          this.#releaseLease(settled);
          throw signal?.aborted
            ? this.#refuse(request, 'aborted', { cause: signal.reason })
            : this.#refuse(request, 'draining');
        }
        return this.#afterDirectAttempt(request, settled);
      },
      (error: unknown) => {
        throw this.#storeUnavailable(request, error);
      },
    );
  }

  /**
   * Takes a slot now or refuses now, synchronously (needs a synchronous store). Requests
   * already waiting keep their turn: if any wait that this one would overtake, it is refused.
   */
  tryAcquire(tenantId: string): Slot | AdmissionRefusal {
    if (!this.#open) return this.#refusalValue(tenantId, 'draining', undefined);
    if (this.#health !== undefined && !this.#health.open) {
      return this.#refusalValue(tenantId, 'unhealthy', this.#health.retryAfterMs());
    }
    let blockedBy: RefusalReason = 'capacity';
    if (!this.#mustQueue(tenantId)) {
      const result = this.#tryStore(tenantId) as AcquireResult;
      if (!isRefusal(result)) return this.#grant(result, 0);
      this.#noteRefusal(tenantId, result.refused);
      blockedBy = result.refused;
    }
    return this.#refusalValue(tenantId, blockedBy, this.#estimateRetry(tenantId, blockedBy));
  }

  /** A slot was released here or elsewhere, or a cap rose: waiters may proceed. */
  capacityMayHaveFreed(tenantId?: string): void {
    this.#globalBlocked = false;
    if (tenantId === undefined) this.#queue.unblockAll();
    else this.#queue.unblock(tenantId);
    if (this.#queue.size > 0) this.#pump();
  }

  /** Stops admitting for good: every waiter is refused with `draining`. Returns how many. */
  close(): number {
    this.#open = false;
    const waiters = this.#queue.removeAll();
    for (const waiter of waiters) this.#leaveQueue(waiter, 'draining');
    this.#deadlines.clear();
    return waiters.length;
  }

  /** Tells every holder to stop: each `slot.signal` aborts with `reasonFor(slot)`. */
  revokeAll(reasonFor: (slot: Slot) => AdmissionError): void {
    for (const slot of this.#slots.toArray()) slot.revoke(reasonFor(slot));
  }

  reportStoreError(operation: 'acquire' | 'release' | 'bind', error: unknown): void {
    if (this.#events.wants('store_error')) this.#events.emit('store_error', { operation, error });
    else
      process.emitWarning(
        error instanceof Error ? error : new Error(String(error)),
        'VoiceAdmissionStoreWarning',
      );
  }

  // ---------------------------------------------------------------- queueing

  #mustQueue(tenantId: string): boolean {
    // The global test first: in a burst it settles most requests without a tenant lookup.
    return (this.#globalBlocked && this.#queue.size > 0) || this.#queue.sizeOf(tenantId) > 0;
  }

  #afterDirectAttempt(request: GateRequest, result: AcquireResult): Promise<unknown> {
    if (!isRefusal(result)) return deliver(this.#grant(result, 0), request.work);
    this.#noteRefusal(request.tenantId, result.refused);
    return this.#enqueueOrRefuse(request, result.refused);
  }

  /** Refusals decided without touching the store: draining, unhealthy. */
  #refusalBeforeQueue(request: GateRequest): AdmissionError | undefined {
    if (!this.#open) return this.#refuse(request, 'draining');
    if (this.#health !== undefined && !this.#health.open) {
      return this.#refuse(request, 'unhealthy', {
        cause: this.#health.status?.reason,
        retryAfterMs: this.#health.retryAfterMs(),
      });
    }
    return undefined;
  }

  #enqueueOrRefuse(request: GateRequest, blockedBy: RefusalReason): Promise<unknown> {
    const { tenantId, signal } = request;
    const queue = this.#queueConfig;
    const wait = request.timeoutMs ?? queue.timeoutMs;
    if (queue.maxSize === 0 || wait === 0) {
      const retryAfterMs = this.#estimateRetry(tenantId, blockedBy);
      return rejectSoon(this.#refuse(request, blockedBy, { retryAfterMs }));
    }
    const waiter = new Waiter(
      tenantId,
      performance.now(),
      wait,
      request.work,
      request.reportRefusal,
    );
    if (
      this.#queue.size >= queue.maxSize ||
      !this.#queue.push(waiter, request.priority, queue.maxPerTenant)
    ) {
      const retryAfterMs = this.#estimateRetry(tenantId, 'capacity');
      return rejectSoon(this.#refuse(request, 'queue_full', { retryAfterMs }));
    }
    const promise = waiter.promise();
    if (wait !== Number.POSITIVE_INFINITY) this.#deadlines.add(waiter, wait);
    if (signal !== undefined) {
      waiter.detach = onAbort(signal, () => this.#leaveQueue(waiter, 'aborted', signal.reason));
    }
    if (this.#events.wants('queued')) {
      this.#events.emit('queued', { tenantId, depth: this.#queue.size });
    }
    return promise;
  }

  /** A waiter leaves without a slot (timeout, abort, drain, store failure). */
  #leaveQueue(waiter: Waiter, outcome: Exclude<DequeueOutcome, 'admitted'>, cause?: unknown): void {
    if (waiter.state === 'done') return;
    waiter.state = 'done';
    waiter.detach();
    this.#queue.remove(waiter);
    this.#deadlines.trim(waiter.waitMs);
    this.#emitDequeued(waiter, outcome);
    let error: AdmissionError;
    if (outcome === 'store_unavailable') error = this.#storeUnavailable(waiter, cause);
    else if (outcome === 'queue_timeout') {
      const retryAfterMs = this.#estimateRetry(waiter.tenantId, 'capacity');
      error = this.#refuse(waiter, 'queue_timeout', { retryAfterMs });
    } else error = this.#refuse(waiter, outcome, { cause });
    waiter.reject(error);
  }

  // ---------------------------------------------------------------- granting

  #tryStore(tenantId: string): SyncOrAsync<AcquireResult> {
    // The adaptive limit is this instance's own; the store holds the shared hard cap.
    const { adaptive } = this.#limits;
    if (adaptive !== undefined && this.#active >= adaptive.current) return ADAPTIVE_FULL;
    const request = {
      tenantId,
      globalLimit: this.#limits.hard,
      tenantLimit: this.#limits.tenant(tenantId),
    };
    try {
      return this.#store.tryAcquire(request);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `counted`: the tenant's hold, when the fair queue has counted this grant already. */
  #grant(lease: Lease, waitedMs: number, counted?: TenantHold): Slot {
    this.#active++;
    let hold = counted;
    if (hold === undefined) {
      hold = this.#queue.holdOf(lease.tenantId);
      this.#queue.granted(hold);
    }
    const slot = new Slot(lease, hold, waitedMs, this.#active, this.#releaseSlot);
    this.#slots.add(slot);
    if (this.#events.wants('admitted')) {
      this.#events.emit('admitted', { tenantId: lease.tenantId, waitedMs, active: this.#active });
    }
    return slot;
  }

  #onRelease(slot: Slot): void {
    const { hold } = slot;
    this.#slots.remove(slot);
    this.#active--;
    this.#queue.released(hold);
    const heldMs = performance.now() - slot.acquiredAt;
    this.#retry.recordHold(heldMs);
    if (this.#events.wants('released')) {
      this.#events.emit('released', { tenantId: hold.tenantId, heldMs, active: this.#active });
    }
    const released = this.#releaseLease(slot.lease);
    if (isPromise(released)) void released.then(() => this.capacityMayHaveFreed(hold.tenantId));
    else this.capacityMayHaveFreed(hold.tenantId);
    this.#afterRelease();
  }

  #releaseLease(lease: Lease): SyncOrAsync<void> {
    try {
      const released = this.#store.release(lease);
      if (!isPromise(released)) return undefined;
      return released.catch((error: unknown) => this.reportStoreError('release', error));
    } catch (error) {
      this.reportStoreError('release', error);
      return undefined;
    }
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
    if (this.#asyncGrantInFlight || !this.admitting) return;
    // One clock read per pass: the waits of the waiters it grants are measured against it.
    let now: number | undefined;
    for (;;) {
      const waiter = this.#queue.next();
      if (waiter === undefined) return;
      const result = this.#tryStore(waiter.tenantId);
      if (isPromise(result)) {
        this.#awaitGrant(waiter, result);
        return;
      }
      now ??= performance.now();
      if (!this.#settleAttempt(waiter, result, now)) return;
    }
  }

  /** Applies a store answer for a queued waiter; returns false when nobody else can proceed. */
  #settleAttempt(waiter: Waiter, result: AcquireResult, now: number): boolean {
    if (isRefusal(result)) {
      this.#noteRefusal(waiter.tenantId, result.refused);
      return result.refused === 'tenant_capacity';
    }
    waiter.state = 'done';
    waiter.detach();
    const hold = this.#queue.served(waiter);
    this.#deadlines.trim(waiter.waitMs);
    const waitedMs = now - waiter.enqueuedAt;
    this.#emitDequeued(waiter, 'admitted', waitedMs);
    waiter.grant(this.#grant(result, waitedMs, hold));
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
          this.#settleAttempt(waiter, result, performance.now());
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
    else this.#queue.block(tenantId);
  }

  // ---------------------------------------------------------------- refusals

  /** Builds the refusal for `request` and reports it when the request says the gate should. */
  #refuse(
    request: { readonly tenantId: string; readonly reportRefusal: boolean },
    code: AdmissionErrorCode,
    details: { cause?: unknown; retryAfterMs?: number } = {},
  ): AdmissionError {
    const error = this.#refusals.error(request.tenantId, code, details);
    if (request.reportRefusal) this.#emitRefused(request.tenantId, code, details.retryAfterMs);
    return error;
  }

  #refusalValue(
    tenantId: string,
    code: AdmissionErrorCode,
    retryAfterMs: number | undefined,
  ): AdmissionRefusal {
    this.#emitRefused(tenantId, code, retryAfterMs);
    return this.#refusals.value(tenantId, code, retryAfterMs);
  }

  #storeUnavailable(
    request: { readonly tenantId: string; readonly reportRefusal: boolean },
    error: unknown,
  ): AdmissionError {
    this.reportStoreError('acquire', error);
    return this.#refuse(request, 'store_unavailable', { cause: error, retryAfterMs: 1_000 });
  }

  #emitRefused(tenantId: string, code: AdmissionErrorCode, retryAfterMs: number | undefined): void {
    if (this.#events.wants('refused'))
      this.#events.emit('refused', { tenantId, code, retryAfterMs });
  }

  #emitDequeued(waiter: Waiter, outcome: DequeueOutcome, waitedMs?: number): void {
    if (this.#events.wants('dequeued')) {
      this.#events.emit('dequeued', {
        tenantId: waiter.tenantId,
        waitedMs: waitedMs ?? performance.now() - waiter.enqueuedAt,
        outcome,
      });
    }
  }

  #estimateRetry(tenantId: string, blockedBy: RefusalReason): number {
    if (blockedBy === 'tenant_capacity') {
      const limit = this.#limits.tenant(tenantId);
      return this.#retry.retryAfterMs(
        this.#queue.sizeOf(tenantId) + 1,
        limit === Number.POSITIVE_INFINITY ? 1 : limit,
      );
    }
    return this.#retry.retryAfterMs(this.#queue.size + 1, this.#limits.current);
  }
}

function deliver(slot: Slot, work: Work): Promise<unknown> {
  return work === undefined ? Promise.resolve(slot) : runHolding(slot, work);
}

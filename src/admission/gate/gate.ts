import type { AdmissionError, AdmissionErrorCode } from '../../iface/errors.js';
import { onAbort } from '../../internal/abort.js';
import { rejectSoon } from '../../internal/reject-soon.js';
import { emitFailureWarning } from '../../internal/warning.js';
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
  readonly #deadlines = new DeadlineQueue<Waiter>((waiter, now) =>
    this.#leaveQueue(waiter, 'queue_timeout', undefined, now),
  );
  readonly #retry = new RetryEstimator();
  /** The store refused for the global cap while requests wait; cleared likewise. */
  #globalBlocked = false;
  #pumping = false;
  #pumpAgain = false;
  /** The clock reading of the pump call under way, taken at its first grant (or given). */
  #pumpNow: number | undefined;
  /**
   * Queued waiters whose acquire a shared store is deciding. They are out of the queue and
   * counted as holding a slot meanwhile, so the next pick is as fair as if they had been
   * granted; a refusal puts them back.
   */
  readonly #acquiring = new Set<Waiter>();
  /** Of those, waiters that left (abort, timeout, drain) before the answer came. */
  #acquiringLeft = 0;
  /**
   * Slots known free while waiters queued (released here, or announced freed elsewhere), not
   * asked for again yet: each lets one more acquire join those in flight (see
   * `#mayAcquireMore`).
   */
  #knownFree = 0;
  /**
   * Times capacity may have freed: a refusal sent before the latest one may be stale, and is
   * not taken to mean the store is full.
   */
  #freedEvents = 0;
  /** Waiters enqueued so far: a refused waiter goes back in front of those queued after it. */
  #enqueued = 0;

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

  /** How long a request asking for `timeoutMs` (undefined: the default) may wait in the queue. */
  queueWaitMs(timeoutMs: number | undefined): number {
    return timeoutMs ?? this.#queueConfig.timeoutMs;
  }

  /** The refusal of a request whose bound on its wait ran out; reported by whoever answers it. */
  queueTimeout(tenantId: string): AdmissionError {
    const retryAfterMs = this.#estimateRetry(tenantId, this.#heldBackBy(tenantId));
    return this.#refusals.error(tenantId, 'queue_timeout', { retryAfterMs });
  }

  /** Requests waiting in the queue, and those a shared store is deciding on. */
  get queued(): number {
    return this.#queue.size + this.#acquiring.size - this.#acquiringLeft;
  }

  /** True while the gate admits (not closed by a drain, health gate open). */
  get admitting(): boolean {
    return this.#open && (this.#health?.open ?? true);
  }

  heldBy(tenantId: string): number {
    // Waiters in flight count as holding until the store answers: not slots yet.
    return this.#queue.heldBy(tenantId) - this.#inFlightFor(tenantId, true);
  }

  queuedFor(tenantId: string): number {
    return this.#queue.sizeOf(tenantId) + this.#inFlightFor(tenantId, false);
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
    const freedBefore = this.#freedEvents;
    return result.then(
      (settled) => {
        // The world may have moved while the store answered: honour aborts and drains.
        if (!isRefusal(settled) && (signal?.aborted || !this.#open)) {
          this.#giveBack(settled);
          throw signal?.aborted
            ? this.#refuse(request, 'aborted', { cause: signal.reason })
            : this.#refuse(request, 'draining');
        }
        if (isRefusal(settled) && this.#freedEvents !== freedBefore) {
          // Capacity may have freed while the store decided: queue, and try at the queue's turn.
          const queued = this.#enqueueOrRefuse(request, settled.refused);
          this.#pump();
          return queued;
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
    if (this.#limits.isShutOut(tenantId))
      return this.#refusalValue(tenantId, 'tenant_capacity', undefined);
    let blockedBy: RefusalReason = 'capacity';
    if (!this.#mustQueue(tenantId)) {
      const result = this.#tryStore(tenantId) as AcquireResult;
      if (!isRefusal(result)) return this.#grant(result, 0);
      this.#noteRefusal(tenantId, result.refused);
      blockedBy = result.refused;
    }
    return this.#refusalValue(tenantId, blockedBy, this.#estimateRetry(tenantId, blockedBy));
  }

  /**
   * A slot was released here or elsewhere, or a cap rose: waiters may proceed. `freed`: how many
   * slots a shared store announced freed elsewhere, that many waiters may try at once. `now`, a
   * clock reading just taken, spares the queue pass its own.
   */
  capacityMayHaveFreed(tenantId?: string, freed = 0, now?: number): void {
    this.#freedEvents++;
    this.#noteKnownFree(freed);
    this.#globalBlocked = false;
    if (tenantId === undefined) this.#queue.unblockAll();
    else this.#queue.unblock(tenantId);
    if (this.#queue.size > 0) this.#pump(now);
  }

  /**
   * Tenant caps changed: the waiters of `tenantIds` whose cap is now 0 are refused at once (no
   * wait can end in a slot), and the rest may proceed if caps rose.
   */
  tenantCapsChanged(tenantIds: Iterable<string>, raisedFor?: string): void {
    const now = performance.now();
    for (const tenantId of tenantIds) {
      if (!this.#limits.isShutOut(tenantId)) continue;
      for (const waiter of this.#queue.entriesOf(tenantId)) {
        this.#leaveQueue(waiter, 'tenant_capacity', undefined, now);
      }
    }
    this.capacityMayHaveFreed(raisedFor);
  }

  /** Stops admitting for good: new requests are refused with `draining`, waiters keep waiting. */
  shut(): void {
    this.#open = false;
  }

  /** Stops admitting for good: every waiter is refused with `draining`. Returns how many. */
  close(): number {
    this.shut();
    const waiters = this.#queue.removeAll();
    for (const waiter of this.#acquiring) if (waiter.state === 'acquiring') waiters.push(waiter);
    // One clock reading for the whole pass: every wait it reports ends at it.
    const now = performance.now();
    for (const waiter of waiters) this.#leaveQueue(waiter, 'draining', undefined, now);
    this.#deadlines.clear();
    return waiters.length;
  }

  /** Tells every holder to stop: each `slot.signal` aborts with `reasonFor(slot)`. */
  revokeAll(reasonFor: (slot: Slot) => AdmissionError): void {
    for (const slot of this.#slots.toArray()) slot.revoke(reasonFor(slot));
  }

  reportStoreError(operation: 'acquire' | 'release' | 'bind', error: unknown): void {
    if (this.#events.wants('store_error')) this.#events.emit('store_error', { operation, error });
    else emitFailureWarning('VoiceAdmissionStoreWarning', error);
  }

  // ---------------------------------------------------------------- queueing

  /** Whether a new request goes behind the waiters rather than to the store at once. */
  #mustQueue(tenantId: string): boolean {
    // The global tests first: in a burst they settle most requests without a tenant lookup.
    return (
      (this.#globalBlocked && this.#queue.size > 0) ||
      this.#acquiring.size > 0 ||
      this.#queue.sizeOf(tenantId) > 0
    );
  }

  /** Acquires in flight for `tenantId`'s waiters, with or without those of waiters that left. */
  #inFlightFor(tenantId: string, withLeft: boolean): number {
    if (this.#acquiring.size === 0) return 0;
    let count = 0;
    for (const waiter of this.#acquiring) {
      if (waiter.tenantId === tenantId && (withLeft || waiter.state === 'acquiring')) count++;
    }
    return count;
  }

  #afterDirectAttempt(request: GateRequest, result: AcquireResult): Promise<unknown> {
    if (!isRefusal(result)) return deliver(this.#grant(result, 0), request.work);
    this.#noteRefusal(request.tenantId, result.refused);
    return this.#enqueueOrRefuse(request, result.refused);
  }

  /**
   * Refusals decided without touching the store: draining, unhealthy, and a tenant capped at 0,
   * which no wait can help (no retry hint: only an operator raising the cap can).
   */
  #refusalBeforeQueue(request: GateRequest): AdmissionError | undefined {
    if (!this.#open) return this.#refuse(request, 'draining');
    if (this.#health !== undefined && !this.#health.open) {
      return this.#refuse(request, 'unhealthy', {
        cause: this.#health.status?.reason,
        retryAfterMs: this.#health.retryAfterMs(),
      });
    }
    if (this.#limits.isShutOut(request.tenantId)) return this.#refuse(request, 'tenant_capacity');
    return undefined;
  }

  #enqueueOrRefuse(request: GateRequest, blockedBy: RefusalReason): Promise<unknown> {
    const { tenantId, signal } = request;
    const queue = this.#queueConfig;
    const wait = this.queueWaitMs(request.timeoutMs);
    if (queue.maxSize === 0 || wait === 0) {
      const retryAfterMs = this.#estimateRetry(tenantId, blockedBy);
      return rejectSoon(this.#refuse(request, blockedBy, { retryAfterMs }));
    }
    const waiter = new Waiter(
      tenantId,
      request.priority,
      ++this.#enqueued,
      performance.now(),
      wait,
      request.work,
      request.reportRefusal,
    );
    // Waiters whose acquire a shared store is deciding are out of the queue but still count.
    if (
      this.queued >= queue.maxSize ||
      !this.#queue.push(
        waiter,
        request.priority,
        queue.maxPerTenant - this.#inFlightFor(tenantId, false),
      )
    ) {
      const retryAfterMs = this.#estimateRetry(tenantId, this.#heldBackBy(tenantId));
      return rejectSoon(this.#refuse(request, 'queue_full', { retryAfterMs }));
    }
    const promise = waiter.promise();
    if (wait !== Number.POSITIVE_INFINITY) this.#deadlines.add(waiter, wait);
    if (signal !== undefined) {
      waiter.detach = onAbort(signal, () => this.#leaveQueue(waiter, 'aborted', signal.reason));
    }
    if (this.#events.wants('queued')) {
      this.#events.emit('queued', { tenantId, depth: this.queued });
    }
    return promise;
  }

  /**
   * A waiter leaves without a slot (timeout, abort, drain, store failure). `now`, the reading of
   * a pass that removes many, spares each its own.
   */
  #leaveQueue(
    waiter: Waiter,
    outcome: Exclude<DequeueOutcome, 'admitted'>,
    cause?: unknown,
    now?: number,
  ): void {
    if (waiter.state === 'done') return;
    if (waiter.state === 'acquiring') this.#acquiringLeft++;
    waiter.state = 'done';
    waiter.detach();
    this.#queue.remove(waiter);
    this.#deadlines.trim(waiter.waitMs);
    this.#emitDequeued(waiter, outcome, now === undefined ? undefined : now - waiter.enqueuedAt);
    let error: AdmissionError;
    if (outcome === 'store_unavailable') error = this.#storeUnavailable(waiter, cause);
    else if (outcome === 'queue_timeout') {
      error = this.queueTimeout(waiter.tenantId);
      if (waiter.reportRefusal) {
        this.#emitRefused(waiter.tenantId, 'queue_timeout', error.retryAfterMs);
      }
    } else error = this.#refuse(waiter, outcome, { cause });
    waiter.reject(error);
  }

  // ---------------------------------------------------------------- granting

  #tryStore(tenantId: string): SyncOrAsync<AcquireResult> {
    // The adaptive limit is this instance's own; the store holds the shared hard cap.
    const { adaptive } = this.#limits;
    if (adaptive !== undefined && this.#active + this.#acquiring.size >= adaptive.current) {
      return ADAPTIVE_FULL;
    }
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

  #grant(lease: Lease, waitedMs: number): Slot {
    const hold = this.#queue.holdOf(lease.tenantId);
    this.#queue.granted(hold);
    return this.#announce(this.#slotFor(lease, hold, waitedMs, performance.now()));
  }

  /**
   * The slot holding `lease` from `now` on, its tenant's hold counted already: counted active,
   * not announced yet (see `#announce`).
   */
  #slotFor(lease: Lease, hold: TenantHold, waitedMs: number, now: number): Slot {
    this.#active++;
    const slot = new Slot(lease, hold, waitedMs, this.#active, this.#releaseSlot, now);
    this.#slots.add(slot);
    return slot;
  }

  /** Tells the `admitted` listeners of `slot`, once it counts as active; returns it. */
  #announce(slot: Slot): Slot {
    if (this.#events.wants('admitted')) {
      const { tenantId, waitedMs } = slot;
      this.#events.emit('admitted', { tenantId, waitedMs, active: this.#active });
    }
    return slot;
  }

  #onRelease(slot: Slot): void {
    const { hold } = slot;
    this.#slots.remove(slot);
    this.#active--;
    this.#queue.released(hold);
    const listened = this.#events.wants('released');
    // The clock is read only when the hold time is wanted; the queue pass reuses the reading.
    let now: number | undefined;
    if (listened || this.#retry.wantsSample()) {
      now = performance.now();
      const heldMs = now - slot.acquiredAt;
      this.#retry.recordHold(heldMs);
      if (listened) {
        this.#events.emit('released', { tenantId: hold.tenantId, heldMs, active: this.#active });
      }
    }
    this.#giveBack(slot.lease, now);
    this.#afterRelease();
  }

  /** Releases a lease and lets waiters proceed; `now` as for `capacityMayHaveFreed`. */
  #giveBack(lease: Lease, now?: number): void {
    const released = this.#releaseLease(lease);
    if (isPromise(released)) {
      // Known free: a waiter's acquire may go at once, beside any in flight.
      this.#noteKnownFree(1);
      void released.then(() => this.capacityMayHaveFreed(lease.tenantId));
    } else this.capacityMayHaveFreed(lease.tenantId, 0, now);
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
  #pump(now?: number): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    this.#pumpNow = now;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
      this.#pumpNow = undefined;
    }
  }

  #pumpOnce(): void {
    if (!this.admitting || this.#globalBlocked) return;
    // One clock read per pump call: the waits of the waiters it grants are measured against it.
    for (;;) {
      if (this.#acquiring.size > 0 && !this.#mayAcquireMore()) return;
      const waiter = this.#queue.next();
      if (waiter === undefined) return;
      const result = this.#tryStore(waiter.tenantId);
      if (isPromise(result)) {
        this.#awaitGrant(waiter, result);
        continue;
      }
      this.#pumpNow ??= performance.now();
      if (!this.#settleAttempt(waiter, result, this.#pumpNow)) return;
    }
  }

  /**
   * Whether another queued waiter's acquire may join those a shared store is deciding: one per
   * slot known free, never more than this instance could hold. Otherwise one acquire at a time
   * probes for slots that may have been freed elsewhere.
   */
  #mayAcquireMore(): boolean {
    return this.#knownFree > 0 && this.#active + this.#acquiring.size < this.#limits.current;
  }

  /** `slots` more are known free: as many more waiters may try at once, up to those queued. */
  #noteKnownFree(slots: number): void {
    const room = this.#queue.size - this.#knownFree;
    if (room > 0) this.#knownFree += Math.min(slots, room);
  }

  /** Applies a store answer for a queued waiter; returns false when nobody else can proceed. */
  #settleAttempt(waiter: Waiter, result: AcquireResult, now: number): boolean {
    if (isRefusal(result)) {
      this.#noteRefusal(waiter.tenantId, result.refused);
      return result.refused === 'tenant_capacity';
    }
    this.#admit(waiter, result, this.#queue.served(waiter), now);
    return true;
  }

  /** Hands `lease` to a waiter already out of the queue, its tenant's grant counted in `hold`. */
  #admit(waiter: Waiter, lease: Lease, hold: TenantHold, now: number): void {
    waiter.state = 'done';
    waiter.detach();
    this.#deadlines.trim(waiter.waitMs);
    // `now` may predate a waiter a listener queued during the release that started this pass.
    const waitedMs = Math.max(0, now - waiter.enqueuedAt);
    // Counted active before any listener hears of it: its tenant counts it as held already.
    const slot = this.#slotFor(lease, hold, waitedMs, now);
    this.#emitDequeued(waiter, 'admitted', waitedMs);
    waiter.grant(this.#announce(slot));
  }

  /**
   * A shared store answers later: the waiter leaves the queue, counted as granted meanwhile, so
   * the pump can pick the next ones fairly and send them along (the store batches them).
   */
  #awaitGrant(waiter: Waiter, pending: Promise<AcquireResult>): void {
    const hold = this.#queue.served(waiter);
    waiter.state = 'acquiring';
    this.#acquiring.add(waiter);
    if (this.#knownFree > 0) this.#knownFree--;
    const freedBefore = this.#freedEvents;
    pending.then(
      (result) => this.#acquireAnswered(waiter, hold, result, freedBefore),
      (error: unknown) => this.#acquireFailed(waiter, hold, error),
    );
  }

  /** The store's answer for a waiter sent by `#awaitGrant`, which it sent after `freedBefore`. */
  #acquireAnswered(
    waiter: Waiter,
    hold: TenantHold,
    result: AcquireResult,
    freedBefore: number,
  ): void {
    this.#acquiring.delete(waiter);
    const left = waiter.state === 'done'; // abort, timeout or drain while the store decided
    if (left) this.#acquiringLeft--;
    if (!isRefusal(result)) {
      if (left) {
        this.#queue.released(hold);
        this.#giveBack(result);
      } else this.#admit(waiter, result, hold, performance.now());
    } else if (left) {
      this.#queue.released(hold);
    } else if (this.#limits.isShutOut(waiter.tenantId)) {
      // Its tenant's cap fell to 0 while the store decided: no turn can come.
      this.#queue.released(hold);
      waiter.state = 'queued';
      this.#leaveQueue(waiter, 'tenant_capacity');
    } else {
      // Back in its place and its turn, its tenant no longer counted as holding the slot.
      waiter.state = 'queued';
      this.#queue.unserve(waiter, waiter.priority, precedes);
      // A refusal older than the latest freed capacity says nothing about now.
      if (this.#freedEvents === freedBefore) this.#noteRefusal(waiter.tenantId, result.refused);
    }
    this.#pump();
  }

  #acquireFailed(waiter: Waiter, hold: TenantHold, error: unknown): void {
    this.#acquiring.delete(waiter);
    this.#queue.released(hold);
    if (waiter.state === 'done') this.#acquiringLeft--;
    else {
      waiter.state = 'queued';
      this.#leaveQueue(waiter, 'store_unavailable', error);
    }
    this.#pump();
  }

  #noteRefusal(tenantId: string, reason: RefusalReason): void {
    if (reason === 'capacity') {
      this.#globalBlocked = true;
      this.#knownFree = 0;
    } else this.#queue.block(tenantId);
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

  /**
   * What holds a queued request of `tenantId` back: its tenant's cap when the tenant holds that
   * many slots here (then only its own releases help), else the global cap.
   */
  #heldBackBy(tenantId: string): RefusalReason {
    return this.#queue.heldBy(tenantId) >= this.#limits.tenant(tenantId)
      ? 'tenant_capacity'
      : 'capacity';
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

function precedes(a: Waiter, b: Waiter): boolean {
  return a.order < b.order;
}

function deliver(slot: Slot, work: Work): Promise<unknown> {
  return work === undefined ? Promise.resolve(slot) : runHolding(slot, work);
}

import { noop } from '../../internal/abort.js';
import type { Deadlined } from './deadline-queue.js';
import type { Lane, QueueEntry } from './fair-queue.js';
import type { Slot } from './slot.js';

/** Work run while holding a slot (`Admission.run`); undefined when the caller takes the slot. */
export type Work = ((slot: Slot) => unknown) | undefined;

/**
 * Runs `work` holding `slot` and settles the caller's promise with its outcome once the slot
 * is released, however `work` ends; without `reject`, rejects through `resolve`. No async
 * wrapper: one `then` on what `work` returns, so a queued task costs its caller's promise and
 * that reaction, not a second promise that the first then follows.
 */
function runHoldingThen(
  slot: Slot,
  work: (slot: Slot) => unknown,
  resolve: (value: unknown) => void,
  reject: ((reason: unknown) => void) | undefined,
): void {
  let result: unknown;
  try {
    result = work(slot);
  } catch (error) {
    slot.release();
    settleRejected(resolve, reject, error);
    return;
  }
  // Inline handlers: closures bound to a name cost a naming call each under some transpilers.
  Promise.resolve(result).then(
    (value) => {
      slot.release();
      resolve(value);
    },
    (error: unknown) => {
      slot.release();
      settleRejected(resolve, reject, error);
    },
  );
}

function settleRejected(
  resolve: (value: unknown) => void,
  reject: ((reason: unknown) => void) | undefined,
  error: unknown,
): void {
  if (reject === undefined) rejectThrough(resolve, error);
  else reject(error);
}

/** Runs `work` holding `slot`, releasing the slot however `work` ends. */
export function runHolding(slot: Slot, work: (slot: Slot) => unknown): Promise<unknown> {
  capturedSlot = slot;
  capturedWork = work;
  return new Promise(runCaptured);
}

/** The executor of `runHolding`: shared, so no closure is made per call (see `capturing`). */
let capturedSlot: Slot | undefined;
let capturedWork: ((slot: Slot) => unknown) | undefined;
function runCaptured(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  const slot = capturedSlot!;
  const work = capturedWork!;
  capturedSlot = undefined;
  capturedWork = undefined;
  runHoldingThen(slot, work, resolve, reject);
}

/** A request waiting in the queue for a slot. Kept small: a queue may hold 100,000 of them. */
export class Waiter implements QueueEntry, Deadlined {
  readonly tenantId: string;
  readonly priority: number;
  /** Queued before every waiter with a higher `order`. */
  readonly order: number;
  /** `performance.now()` at enqueue. */
  readonly enqueuedAt: number;
  /** How long it may wait (`Infinity` for no deadline). */
  readonly waitMs: number;
  readonly work: Work;
  /** Whether a refusal of this request is reported here (raw slots) or by its caller's flow. */
  readonly reportRefusal: boolean;
  lane: Lane | undefined = undefined;
  prev: QueueEntry | undefined = undefined;
  next: QueueEntry | undefined = undefined;
  /** `acquiring` while a shared store decides on it (out of the queue meanwhile). */
  state: 'queued' | 'acquiring' | 'done' = 'queued';
  detach: () => void = noop;
  /** Settles the caller's promise; rejecting goes through it too (see `reject`). */
  resolve: (value: unknown) => void = noop;

  constructor(
    tenantId: string,
    priority: number,
    order: number,
    enqueuedAt: number,
    waitMs: number,
    work: Work,
    reportRefusal: boolean,
  ) {
    this.tenantId = tenantId;
    this.priority = priority;
    this.order = order;
    this.enqueuedAt = enqueuedAt;
    this.waitMs = waitMs;
    this.work = work;
    this.reportRefusal = reportRefusal;
  }

  get deadline(): number {
    return this.enqueuedAt + this.waitMs;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The promise the caller waits on, settled through `resolve` / `reject`. */
  promise(): Promise<unknown> {
    capturing = this;
    return new Promise(captureSettlers);
  }

  /** Hands the granted slot over: to the caller, or to the work waiting with the request. */
  grant(slot: Slot): void {
    if (this.work === undefined) this.resolve(slot);
    else runHoldingThen(slot, this.work, this.resolve, undefined);
  }

  /** Rejects the caller's promise (through `resolve`: the waiter keeps no reject function). */
  reject(error: unknown): void {
    rejectThrough(this.resolve, error);
  }
}

/**
 * Rejects a promise by resolving it with a thenable that rejects, for holders of `resolve`
 * alone: one function less per queued request. A thenable rather than Promise.reject(): it
 * cannot become an unhandled rejection.
 */
function rejectThrough(resolve: (value: unknown) => void, error: unknown): void {
  // biome-ignore lint/suspicious/noThenProperty: the thenable is the point
  resolve({ then: (_: unknown, reject: (reason: unknown) => void) => reject(error) });
}

/**
 * One shared executor instead of a closure per waiter (a queue of 100,000 waiters would pay
 * for 100,000 closures): the Promise constructor runs it synchronously, so the waiter being
 * built is always the one in `capturing`.
 */
let capturing: Waiter | undefined;
function captureSettlers(resolve: (value: unknown) => void): void {
  const waiter = capturing!;
  capturing = undefined;
  waiter.resolve = resolve;
}

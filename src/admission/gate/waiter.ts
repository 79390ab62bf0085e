import { noop } from '../../internal/abort.js';
import type { Deadlined } from './deadline-queue.js';
import type { Lane, QueueEntry } from './fair-queue.js';
import type { Slot } from './slot.js';

/** Work run while holding a slot (`Admission.run`); undefined when the caller takes the slot. */
export type Work = ((slot: Slot) => unknown) | undefined;

/** Runs `work` holding `slot`, releasing the slot however `work` ends. */
export async function runHolding<T>(slot: Slot, work: (slot: Slot) => T | Promise<T>): Promise<T> {
  try {
    return await work(slot);
  } finally {
    slot.release();
  }
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
    this.resolve(this.work === undefined ? slot : runHolding(slot, this.work));
  }

  /**
   * Rejects the caller's promise by resolving it with a thenable that rejects. The waiter keeps
   * no reject function of its own: one function less per queued request.
   */
  reject(error: unknown): void {
    // A thenable rather than Promise.reject(): it cannot become an unhandled rejection.
    // biome-ignore lint/suspicious/noThenProperty: the thenable is the point
    this.resolve({ then: (_: unknown, reject: (reason: unknown) => void) => reject(error) });
  }
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

import type fc from 'fast-check';
import type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  Lease,
  StoreUsage,
} from '../../src/admission/store/capacity-store.js';
import { MemoryCapacityStore } from '../../src/admission/store/memory-store.js';

/** What the store does with one acquire: decide it, or fail before or after deciding. */
export type AcquireFate = 'answer' | 'fail' | 'decide-then-fail';

/**
 * A shared store as hostile as a network makes it: every call is decided and answered when a
 * fast-check scheduler says so, in any order (a later acquire may be decided first), and an
 * acquire may fail without being applied, or be applied and then fail, its lease lost to the
 * caller and dropped by the store later (as a lease nobody renews expires, which the store
 * announces as freed capacity).
 */
export class ScheduledStore implements CapacityStore {
  readonly kind = 'scheduled';
  readonly #inner = new MemoryCapacityStore();
  readonly #scheduler: fc.Scheduler;
  readonly #fates: readonly AcquireFate[];
  #calls = 0;
  readonly #freedListeners: ((freed?: number) => void)[] = [];

  constructor(scheduler: fc.Scheduler, fates: readonly AcquireFate[]) {
    this.#scheduler = scheduler;
    this.#fates = fates;
  }

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    const call = this.#calls++;
    const fate = this.#fates.length === 0 ? 'answer' : this.#fates[call % this.#fates.length]!;
    return this.#scheduler.schedule(Promise.resolve(), `acquire ${call}`).then(() => {
      if (fate === 'fail') throw new Error('store unreachable');
      const result = this.#inner.tryAcquire(request);
      if (fate === 'answer') return result;
      if (result.refused === undefined) {
        void this.#scheduler.schedule(Promise.resolve(), `expire ${call}`).then(() => {
          this.#inner.release(result);
          // As a wake-up message does for a slot freed elsewhere.
          for (const listener of this.#freedListeners) listener(1);
        });
      }
      throw new Error('store answered too late');
    });
  }

  release(lease: Lease): Promise<void> {
    return this.#scheduler
      .schedule(Promise.resolve(), `release ${lease.id}`)
      .then(() => this.#inner.release(lease));
  }

  onCapacityFreed(listener: (freed?: number) => void): () => void {
    this.#freedListeners.push(listener);
    return () => this.#freedListeners.splice(this.#freedListeners.indexOf(listener), 1);
  }

  usage(): StoreUsage {
    return this.#inner.usage();
  }
}

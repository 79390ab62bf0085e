import type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  Lease,
  StoreUsage,
} from '../../src/admission/store/capacity-store.js';
import { MemoryCapacityStore } from '../../src/admission/store/memory-store.js';

/**
 * The memory store behind an asynchronous boundary, answering on a later turn of the event
 * loop the way a networked store does, so admission's asynchronous paths run without one.
 */
export class AsyncMemoryStore implements CapacityStore {
  readonly kind = 'async-memory';
  readonly #inner = new MemoryCapacityStore();

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return later(() => this.#inner.tryAcquire(request));
  }

  release(lease: Lease): Promise<void> {
    return later(() => this.#inner.release(lease));
  }

  usage(): Promise<StoreUsage> {
    return later(() => this.#inner.usage());
  }
}

function later<T>(answer: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(answer());
      } catch (error) {
        reject(error);
      }
    });
  });
}

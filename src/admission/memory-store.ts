import type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  Lease,
  Refusal,
  StoreUsage,
} from './capacity-store.js';

const GLOBAL_FULL: Refusal = Object.freeze({ refused: 'capacity' });
const TENANT_FULL: Refusal = Object.freeze({ refused: 'tenant_capacity' });

/**
 * Counts slots in this process. Synchronous, so a refusal or an admission is decided within
 * the caller's own call. Share one instance between several `Admission`s to give them one cap.
 */
export class MemoryCapacityStore implements CapacityStore {
  readonly kind = 'memory';
  #active = 0;
  #sequence = 0;
  readonly #tenants = new Map<string, number>();
  /** Leases out now; guards against a lease being released twice or forged. */
  readonly #held = new WeakSet<Lease>();

  tryAcquire(request: AcquireRequest): AcquireResult {
    if (this.#active >= request.globalLimit) return GLOBAL_FULL;
    const tenantActive = this.#tenants.get(request.tenantId) ?? 0;
    if (tenantActive >= request.tenantLimit) return TENANT_FULL;
    this.#active++;
    this.#tenants.set(request.tenantId, tenantActive + 1);
    const lease: Lease = { id: `m${++this.#sequence}`, tenantId: request.tenantId };
    this.#held.add(lease);
    return lease;
  }

  release(lease: Lease): void {
    if (!this.#held.delete(lease)) {
      throw new Error(`lease ${lease.id} is not held by this store (released twice?)`);
    }
    this.#active--;
    const remaining = (this.#tenants.get(lease.tenantId) ?? 1) - 1;
    if (remaining === 0) this.#tenants.delete(lease.tenantId);
    else this.#tenants.set(lease.tenantId, remaining);
  }

  usage(): StoreUsage {
    return { active: this.#active, tenants: new Map(this.#tenants) };
  }
}

/** The default store: slots counted in this process. */
export function memoryStore(): MemoryCapacityStore {
  return new MemoryCapacityStore();
}

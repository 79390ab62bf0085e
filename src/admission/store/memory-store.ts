import { tenantIdField } from '../../internal/tenant-id.js';
import type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  Lease,
  Refusal,
  StoreUsage,
} from './capacity-store.js';
import { CapsCircle } from './shared-caps.js';

const GLOBAL_FULL: Refusal = Object.freeze({ refused: 'capacity' });
const TENANT_FULL: Refusal = Object.freeze({ refused: 'tenant_capacity' });
/** Idle tenant counters kept for reuse at least; see `#idle`. */
const IDLE_KEPT = 1_024;

interface TenantCount {
  active: number;
}

/** A lease that points at its tenant's counter, so release needs no lookup. */
class MemoryLease implements Lease {
  readonly tenantId: string;
  readonly store: MemoryCapacityStore;
  readonly counter: TenantCount;
  readonly #sequence: number;
  held = true;

  constructor(
    store: MemoryCapacityStore,
    tenantId: string,
    counter: TenantCount,
    sequence: number,
  ) {
    this.store = store;
    this.tenantId = tenantId;
    this.counter = counter;
    this.#sequence = sequence;
  }

  /** Built on demand: most leases are never asked for an id. */
  get id(): string {
    return `m${this.#sequence}`;
  }
}

/**
 * Counts slots in this process. Synchronous, so a refusal or an admission is decided within
 * the caller's own call. Share one instance between several `Admission`s to give them one cap:
 * they then hold one set of caps (`maxConcurrentSessions`, `tenants`), and a slot one of them
 * releases lets the others' waiters in too. The first `Admission` sets the caps; another given
 * different caps is refused with a `ConfigError` naming both values; `setLimits()` or
 * `setTenantLimit()` on any of them changes them for all. Once every `Admission` using the
 * store has drained, the next one sets them afresh.
 */
export class MemoryCapacityStore implements CapacityStore {
  readonly kind = 'memory';
  readonly synchronous = true;
  readonly available = true;
  /**
   * The Admissions counting here, which hold the same caps.
   * @internal
   */
  readonly capsCircle = new CapsCircle('memory', '(or each its own store)');
  #active = 0;
  #sequence = 0;
  readonly #tenants = new Map<string, TenantCount>();
  /**
   * Counters at zero, kept so a tenant coming back reuses its own. Swept once they outnumber
   * both IDLE_KEPT and the busy ones: a sweep then follows at least that many releases, so
   * its cost per release stays constant however many tenants there are.
   */
  #idle = 0;
  /** The Admissions counting here, each told when another may have freed a slot. */
  readonly #freedListeners = new Set<() => void>();
  #tellingFreed = false;

  tryAcquire(request: AcquireRequest): AcquireResult {
    if (this.#active >= request.globalLimit) return GLOBAL_FULL;
    let counter = this.#tenants.get(request.tenantId);
    if (counter === undefined) {
      // Checked once per counter: the ids every store accepts (the Redis scripts split on
      // control characters).
      tenantIdField('tenantId', request.tenantId);
      counter = { active: 0 };
      this.#tenants.set(request.tenantId, counter);
      this.#idle++;
    }
    if (counter.active >= request.tenantLimit) return TENANT_FULL;
    this.#active++;
    if (counter.active++ === 0) this.#idle--;
    return new MemoryLease(this, request.tenantId, counter, ++this.#sequence);
  }

  release(lease: Lease): void {
    if (!(lease instanceof MemoryLease) || lease.store !== this || !lease.held) {
      throw new Error(`lease ${lease.id} is not held by this store (released twice?)`);
    }
    lease.held = false;
    this.#active--;
    lease.counter.active--;
    if (lease.counter.active === 0 && ++this.#idle > IDLE_KEPT) {
      if (this.#idle > this.#tenants.size - this.#idle) this.#sweepIdle();
    }
    // The releasing Admission lets its own waiters in; the others sharing the store would not
    // know until a release of their own or their waiters' deadlines. Told once the release
    // is over (one call for a burst of them), not from inside it.
    if (this.#freedListeners.size > 1 && !this.#tellingFreed) {
      this.#tellingFreed = true;
      queueMicrotask(this.#tellFreed);
    }
  }

  onCapacityFreed(listener: () => void): () => void {
    this.#freedListeners.add(listener);
    return () => {
      this.#freedListeners.delete(listener);
    };
  }

  readonly #tellFreed = (): void => {
    this.#tellingFreed = false;
    for (const listener of [...this.#freedListeners]) listener();
  };

  #sweepIdle(): void {
    for (const [tenantId, counter] of this.#tenants) {
      if (counter.active === 0) this.#tenants.delete(tenantId);
    }
    this.#idle = 0;
  }

  usage(): StoreUsage {
    const tenants = new Map<string, number>();
    for (const [tenantId, counter] of this.#tenants) {
      if (counter.active > 0) tenants.set(tenantId, counter.active);
    }
    return { active: this.#active, tenants };
  }
}

/** The default store: slots counted in this process. */
export function memoryStore(): MemoryCapacityStore {
  return new MemoryCapacityStore();
}

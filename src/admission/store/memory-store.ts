import { ConfigError } from '../../iface/errors.js';
import { tenantIdField } from '../../internal/validate.js';
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
 * The caps the `Admission`s sharing a memory store hold in common (an adaptive `limit` is
 * each one's own, under them).
 * @internal
 */
export interface SharedCaps {
  readonly maxConcurrentSessions: number;
  /** `Infinity` for none. */
  readonly tenantDefaultMax: number;
  readonly tenantMax: ReadonlyMap<string, number>;
}

/**
 * An `Admission` using a memory store: its caps now, and how it takes another's change.
 * @internal
 */
export interface CapsHolder {
  caps(): SharedCaps;
  /** Another holder changed the caps (for `tenantId` only, when given): take them. */
  adopt(caps: SharedCaps, tenantId: string | undefined): void;
}

/**
 * Counts slots in this process. Synchronous, so a refusal or an admission is decided within
 * the caller's own call. Share one instance between several `Admission`s to give them one cap:
 * they then hold one set of caps (`maxConcurrentSessions`, `tenants`). The first `Admission`
 * sets them; another given different caps is refused with a `ConfigError` naming both values;
 * `setLimits()` or `setTenantLimit()` on any of them changes them for all. Once every
 * `Admission` using the store has drained, the next one sets them afresh.
 */
export class MemoryCapacityStore implements CapacityStore {
  readonly kind = 'memory';
  readonly synchronous = true;
  /** The Admissions counting here, which hold the same caps. */
  readonly #holders = new Set<CapsHolder>();
  #active = 0;
  #sequence = 0;
  readonly #tenants = new Map<string, TenantCount>();
  /**
   * Counters at zero, kept so a tenant coming back reuses its own. Swept once they outnumber
   * both IDLE_KEPT and the busy ones: a sweep then follows at least that many releases, so
   * its cost per release stays constant however many tenants there are.
   */
  #idle = 0;

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
  }

  #sweepIdle(): void {
    for (const [tenantId, counter] of this.#tenants) {
      if (counter.active === 0) this.#tenants.delete(tenantId);
    }
    this.#idle = 0;
  }

  /**
   * Refuses caps other than those of the Admissions already counting here, naming the first
   * that differs and both its values.
   * @internal
   */
  checkCaps(caps: SharedCaps): void {
    const [holder] = this.#holders;
    if (holder === undefined) return;
    const held = holder.caps();
    const differs = (field: string, mine: number | undefined, theirs: number | undefined) =>
      new ConfigError(
        `options.${field}`,
        `is ${showCap(mine)}, but the memoryStore() it is given counts for another Admission ` +
          `whose ${field} is ${showCap(theirs)}: Admissions sharing a memory store share its ` +
          'caps, so give them the same (or each its own store)',
      );
    if (caps.maxConcurrentSessions !== held.maxConcurrentSessions) {
      throw differs(
        'maxConcurrentSessions',
        caps.maxConcurrentSessions,
        held.maxConcurrentSessions,
      );
    }
    if (caps.tenantDefaultMax !== held.tenantDefaultMax) {
      throw differs('tenants.defaultMax', caps.tenantDefaultMax, held.tenantDefaultMax);
    }
    const tenants = [...new Set([...caps.tenantMax.keys(), ...held.tenantMax.keys()])].sort();
    for (const tenantId of tenants) {
      const mine = caps.tenantMax.get(tenantId);
      const theirs = held.tenantMax.get(tenantId);
      if (mine !== theirs) throw differs(`tenants.max.${tenantId}`, mine, theirs);
    }
  }

  /**
   * Counts for `holder` from now on, its caps checked already (`checkCaps`, before it claims
   * anything); returns how it leaves (when it has drained).
   * @internal
   */
  join(holder: CapsHolder): () => void {
    this.#holders.add(holder);
    return () => {
      this.#holders.delete(holder);
    };
  }

  /**
   * `holder` changed its caps: every other holder takes them, so all keep one set.
   * @internal
   */
  capsChanged(holder: CapsHolder, tenantId: string | undefined): void {
    if (!this.#holders.has(holder) || this.#holders.size === 1) return;
    const caps = holder.caps();
    for (const other of [...this.#holders]) {
      if (other !== holder) other.adopt(caps, tenantId);
    }
  }

  usage(): StoreUsage {
    const tenants = new Map<string, number>();
    for (const [tenantId, counter] of this.#tenants) {
      if (counter.active > 0) tenants.set(tenantId, counter.active);
    }
    return { active: this.#active, tenants };
  }
}

function showCap(value: number | undefined): string {
  if (value === undefined) return 'not set';
  return value === Number.POSITIVE_INFINITY ? 'Infinity (no cap)' : String(value);
}

/** The default store: slots counted in this process. */
export function memoryStore(): MemoryCapacityStore {
  return new MemoryCapacityStore();
}

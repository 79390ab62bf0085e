import type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  Lease,
  StoreUsage,
} from '../../src/admission/store/capacity-store.js';

/**
 * Wraps a store and checks, independently of it and of admission, that no grant ever exceeds
 * the limits it was asked under and that every lease is released exactly once.
 */
export class CheckingStore implements CapacityStore {
  readonly kind: string;
  readonly synchronous: boolean;
  readonly inner: CapacityStore;
  readonly violations: string[] = [];
  // By lease, not by id: a shared store may pass a released lease's id to a new holder.
  readonly #held = new Set<Lease>();
  readonly #tenantHeld = new Map<string, number>();
  readonly #releases = new WeakMap<Lease, number>();
  acquired = 0;
  peakHeld = 0;
  /** Calls to the inner store whose answer has not arrived yet. */
  pending = 0;

  // Declared, not initialised: present only when the inner store has them.
  declare readonly onCapacityFreed?: NonNullable<CapacityStore['onCapacityFreed']>;
  declare readonly claim?: NonNullable<CapacityStore['claim']>;
  declare readonly bindSession?: NonNullable<CapacityStore['bindSession']>;
  /** The inner store's, so Admissions sharing this one share their caps as they would its. */
  declare readonly capsCircle?: unknown;

  constructor(inner: CapacityStore) {
    this.inner = inner;
    // Wake-ups and idempotency claims pass straight through: only slots are checked here.
    if (inner.onCapacityFreed) this.onCapacityFreed = inner.onCapacityFreed.bind(inner);
    if (inner.claim) this.claim = inner.claim.bind(inner);
    if (inner.bindSession) this.bindSession = inner.bindSession.bind(inner);
    if ('capsCircle' in inner) this.capsCircle = inner.capsCircle;
    this.kind = `checking(${inner.kind})`;
    this.synchronous = inner.synchronous === true;
  }

  get held(): number {
    return this.#held.size;
  }

  tenantHeld(tenantId: string): number {
    return this.#tenantHeld.get(tenantId) ?? 0;
  }

  tryAcquire(request: AcquireRequest): AcquireResult | Promise<AcquireResult> {
    const result = this.inner.tryAcquire(request);
    if (result instanceof Promise) return this.#track(result.then((r) => this.#record(request, r)));
    return this.#record(request, result);
  }

  release(lease: Lease): void | Promise<void> {
    const count = (this.#releases.get(lease) ?? 0) + 1;
    this.#releases.set(lease, count);
    if (count > 1) this.violations.push(`lease ${lease.id} released ${count} times`);
    if (!this.#held.delete(lease)) this.violations.push(`lease ${lease.id} released but not held`);
    const left = (this.#tenantHeld.get(lease.tenantId) ?? 0) - 1;
    if (left <= 0) this.#tenantHeld.delete(lease.tenantId);
    else this.#tenantHeld.set(lease.tenantId, left);
    const released = this.inner.release(lease);
    return released instanceof Promise ? this.#track(released) : released;
  }

  #track<T>(answer: Promise<T>): Promise<T> {
    this.pending++;
    return answer.finally(() => {
      this.pending--;
    });
  }

  usage(): StoreUsage | Promise<StoreUsage> {
    return this.inner.usage();
  }

  /** Leases acquired and never released. */
  unreleased(): string[] {
    return [...this.#held].map((lease) => lease.id);
  }

  #record(request: AcquireRequest, result: AcquireResult): AcquireResult {
    if (result.refused !== undefined) return result;
    this.acquired++;
    if (this.#held.has(result)) this.violations.push(`lease ${result.id} granted twice`);
    this.#held.add(result);
    const tenant = (this.#tenantHeld.get(request.tenantId) ?? 0) + 1;
    this.#tenantHeld.set(request.tenantId, tenant);
    this.peakHeld = Math.max(this.peakHeld, this.#held.size);
    if (this.#held.size > request.globalLimit) {
      this.violations.push(`global: ${this.#held.size} held under limit ${request.globalLimit}`);
    }
    if (tenant > request.tenantLimit) {
      this.violations.push(
        `tenant ${request.tenantId}: ${tenant} held under limit ${request.tenantLimit}`,
      );
    }
    return result;
  }
}

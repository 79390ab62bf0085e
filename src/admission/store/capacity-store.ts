/**
 * Where slots are counted. The in-memory store serves one process; a shared store (Redis)
 * serves many instances with the same contract. Admission owns the limits and passes them
 * with every acquire, so limits can change at run time (or adapt) without the store knowing.
 *
 * Methods may answer synchronously or with a promise: the in-memory store answers
 * synchronously so the single-process fast path never waits for a microtask.
 */

/** A held slot as the store knows it. Released exactly once through `release`. */
export interface Lease {
  readonly id: string;
  readonly tenantId: string;
  /** Always undefined on a lease; lets `AcquireResult` be told apart without allocation. */
  readonly refused?: undefined;
}

export interface AcquireRequest {
  readonly tenantId: string;
  /** Global cap across everyone sharing the store. */
  readonly globalLimit: number;
  /** The tenant's cap; `Infinity` for none. */
  readonly tenantLimit: number;
}

export type RefusalReason = 'capacity' | 'tenant_capacity';

export interface Refusal {
  readonly refused: RefusalReason;
}

export type AcquireResult = Lease | Refusal;

/** Usage as the store sees it (for a shared store: across all instances). */
export interface StoreUsage {
  readonly active: number;
  readonly tenants: ReadonlyMap<string, number>;
}

export interface CapacityStore {
  /** e.g. `memory`, `redis`. */
  readonly kind: string;
  /**
   * True when `tryAcquire` and `release` always answer synchronously (the memory store);
   * enables `Admission.tryAcquire()`.
   */
  readonly synchronous?: boolean | undefined;
  /**
   * False while the store cannot take acquires (a shared store that cannot reach its server,
   * or whose server refuses writes): they reject meanwhile, and admission refuses
   * `store_unavailable`. Absent means always.
   */
  readonly available?: boolean | undefined;
  /**
   * Takes a slot if both the global and the tenant cap allow it, atomically.
   * Rejects (never refuses) when the store cannot be reached; admission turns that into
   * `store_unavailable`.
   */
  tryAcquire(request: AcquireRequest): AcquireResult | Promise<AcquireResult>;
  /** Gives a slot back. Called exactly once per lease by admission. */
  release(lease: Lease): void | Promise<void>;
  usage(): StoreUsage | Promise<StoreUsage>;
  /**
   * Shared stores call `listener` when capacity may have been freed by someone else,
   * so local waiters retry: with how many slots were freed when the store knows (that many
   * waiters may try at once), without when it does not (one tries, and the next once it is
   * answered). Returns the function that unsubscribes.
   */
  onCapacityFreed?(listener: (freed?: number) => void): () => void;
  /**
   * Shared stores call `listener` when a lease this process holds was dropped by the store
   * (it expired while the process was cut off, or the store lost its data and the caps left no
   * room to re-assert it): the slot no longer counts. Returns the function that unsubscribes.
   */
  onLeaseLost?(listener: (lease: Lease) => void): () => void;
  /**
   * Ties an idempotency key to a held lease, atomically across everyone sharing the store.
   * Refused when another live lease holds the key (with that holder's session id if known).
   * Rejects when the lease is not held (released, even while the claim was under way).
   */
  claim?(lease: Lease, key: string): Promise<ClaimResult>;
  /** Records the session created under a claimed key, so duplicates can be told its id. */
  bindSession?(lease: Lease, key: string, sessionId: string): Promise<void>;
}

export type ClaimResult =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly sessionId: string | undefined };

/** Tells a refusal from a lease. */
export function isRefusal(result: AcquireResult): result is Refusal {
  return result.refused !== undefined;
}

import type { AcquireRequest, Lease } from '../capacity-store.js';

/** A lease this process holds, with what it needs to renew or re-assert it. */
export class RedisLease implements Lease {
  readonly id: string;
  readonly tenantId: string;
  readonly globalLimit: number;
  readonly tenantLimit: number;
  /** Its member of the leases set: the tenant rides along, so Redis needs no lookup for it. */
  readonly member: string;
  /** Granted from the local share while Redis was unreachable, not yet in Redis. */
  local: Lease | undefined;
  claimKey = '';
  /** The session created under its claim, named again when the claim is taken again. */
  sessionId = '';
  /** Claims of a key under way on it: until they are answered, it is not passed on. */
  claiming = 0;
  /**
   * Local time (`performance.now()`) by which Redis may have expired it: the start of the call
   * that last wrote it, plus the TTL, minus the margin.
   */
  deadline = 0;
  /**
   * `leased`: counted in Redis as far as this process knows; `unleased`: past its deadline or
   * found missing, not re-asserted yet; `local`: granted from the local share, never in Redis yet.
   */
  state: 'leased' | 'unleased' | 'local' = 'leased';
  /** Its session was told to end (`lease_lost`); it stays held until admission releases it. */
  ended = false;

  constructor(id: string, request: AcquireRequest, local: Lease | undefined) {
    this.id = id;
    this.member = leaseMember(request.tenantId, id);
    this.tenantId = request.tenantId;
    this.globalLimit = request.globalLimit;
    this.tenantLimit = request.tenantLimit;
    this.local = local;
  }

  /**
   * Whether, once released, it may pass to a new holder of its tenant: counted in Redis, with
   * nothing there to undo but the release itself (no claim, none under way, session not ended).
   */
  get passable(): boolean {
    return this.state === 'leased' && this.claimKey === '' && this.claiming === 0 && !this.ended;
  }
}

/** A lease's member in the leases set: `tenant "\n" id` (the scripts split on the newline). */
export function leaseMember(tenantId: string, id: string): string {
  return `${tenantId}\n${id}`;
}

/**
 * The leases this process holds, and when each may have expired in Redis. Leases counted in
 * Redis are kept sorted by deadline, so finding the overdue ones reads only the front. Deadlines
 * mostly arrive in order (a deadline is the start of a call plus a constant, and one connection
 * answers in the order it was asked); the few that do not (a script re-sent after NOSCRIPT)
 * wait aside among the stragglers, which are read in full.
 */
export class LeaseBook {
  readonly #held = new Map<string, RedisLease>();
  /** Leased ones, sorted by deadline (a Set keeps insertion order). */
  readonly #order = new Set<RedisLease>();
  /** Leased ones whose deadline came earlier than the last one in `#order`. */
  readonly #stragglers = new Set<RedisLease>();
  #lastDeadline = Number.NEGATIVE_INFINITY;
  #unleased = 0;
  /** No leased lease has a deadline before this (a lower bound; Infinity when none). */
  #nextDeadline = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.#held.size;
  }

  /** Held leases not counted in Redis as far as this process knows. */
  get unleased(): number {
    return this.#unleased;
  }

  get nextDeadline(): number {
    return this.#nextDeadline;
  }

  get(id: string): RedisLease | undefined {
    return this.#held.get(id);
  }

  has(lease: RedisLease): boolean {
    return this.#held.get(lease.id) === lease;
  }

  /**
   * Who holds each of `leases` now, skipping the released ones: a lease passed to a new holder
   * is held under a new object with the same id (and the same member in Redis).
   */
  holders(leases: readonly RedisLease[]): RedisLease[] {
    const held: RedisLease[] = [];
    for (const lease of leases) {
      const holder = this.#held.get(lease.id);
      if (holder !== undefined) held.push(holder);
    }
    return held;
  }

  /**
   * A snapshot to renew: the ones Redis may not have first, then by deadline, so the leases
   * closest to expiring go first.
   */
  list(): RedisLease[] {
    const list: RedisLease[] = [];
    if (this.#order.size < this.#held.size) {
      for (const lease of this.#held.values()) if (lease.state !== 'leased') list.push(lease);
      for (const lease of this.#stragglers) list.push(lease);
    }
    for (const lease of this.#order) list.push(lease);
    return list;
  }

  /** Adds a lease just written to Redis, counted there until `deadline`. */
  add(lease: RedisLease, deadline: number): void {
    this.#held.set(lease.id, lease);
    lease.state = 'leased';
    this.#setDeadline(lease, deadline);
  }

  /** Adds a lease granted from the local share: no deadline until Redis has it. */
  addLocal(lease: RedisLease): void {
    this.#held.set(lease.id, lease);
    lease.state = 'local';
  }

  delete(lease: RedisLease): void {
    if (!this.#held.delete(lease.id)) return;
    if (lease.state === 'leased') this.#unorder(lease);
    else if (lease.state === 'unleased') this.#unleased--;
  }

  /** Redis has it again (or for the first time), until `deadline`. */
  renewed(lease: RedisLease, deadline: number): void {
    if (!this.has(lease)) return;
    if (lease.state === 'unleased') this.#unleased--;
    else if (lease.state === 'leased') this.#unorder(lease);
    lease.state = 'leased';
    this.#setDeadline(lease, deadline);
  }

  /** Redis no longer has it (or may not). Returns false if that was known already. */
  unlease(lease: RedisLease): boolean {
    if (!this.has(lease) || lease.state !== 'leased') return false;
    lease.state = 'unleased';
    this.#unorder(lease);
    this.#unleased++;
    return true;
  }

  /** Unleases and returns every leased lease whose deadline is at or before `now`. */
  takeOverdue(now: number): RedisLease[] {
    if (now < this.#nextDeadline) return [];
    const overdue: RedisLease[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.#order) {
      if (lease.deadline > now) {
        next = lease.deadline;
        break;
      }
      overdue.push(lease);
    }
    for (const lease of this.#stragglers) {
      if (lease.deadline <= now) overdue.push(lease);
      else next = Math.min(next, lease.deadline);
    }
    for (const lease of overdue) this.unlease(lease);
    this.#nextDeadline = next;
    return overdue;
  }

  #setDeadline(lease: RedisLease, deadline: number): void {
    lease.deadline = deadline;
    if (deadline >= this.#lastDeadline) {
      this.#order.add(lease);
      this.#lastDeadline = deadline;
    } else this.#stragglers.add(lease);
    if (deadline < this.#nextDeadline) this.#nextDeadline = deadline;
  }

  #unorder(lease: RedisLease): void {
    if (!this.#order.delete(lease)) this.#stragglers.delete(lease);
  }
}

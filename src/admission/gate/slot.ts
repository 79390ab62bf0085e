import type { Lease } from '../store/capacity-store.js';

/** Called by a slot the one time it is released. */
export type SlotReleaser = (slot: Slot) => void;

/** Per-tenant count of the slots an admission holds; shared by that tenant's slots. */
export interface TenantHold {
  readonly tenantId: string;
  active: number;
}

/**
 * One admitted unit of capacity. `release()` is idempotent: only the first call gives the
 * slot back, so every path (close, failure, abort, drain) can call it without counting twice.
 */
export class Slot {
  readonly lease: Lease;
  /** `performance.now()` when the slot was granted. */
  readonly acquiredAt: number;
  /** Milliseconds the request waited in the queue before the grant. */
  readonly waitedMs: number;
  /**
   * Slots this instance held right after the grant, this one included: what an adaptive limit
   * judges the outcome of the work against (feedback travels with the grant).
   */
  readonly inflight: number;
  /** @internal The holding tenant's count, so release needs no lookup. */
  readonly hold: TenantHold;
  /** @internal Links in the admission's list of held slots (no hashing on the hot path). */
  prev: Slot | undefined;
  /** @internal */
  next: Slot | undefined;
  #released = false;
  readonly #releaser: SlotReleaser;
  #controller: AbortController | undefined;
  #revoked = false;
  #revokeReason: unknown;
  #watcher: ((reason: unknown) => void) | undefined;

  /** @internal Slots are made by the admission gate. */
  constructor(
    lease: Lease,
    hold: TenantHold,
    waitedMs: number,
    inflight: number,
    releaser: SlotReleaser,
    acquiredAt: number,
  ) {
    this.lease = lease;
    this.hold = hold;
    this.waitedMs = waitedMs;
    this.inflight = inflight;
    this.acquiredAt = acquiredAt;
    this.#releaser = releaser;
  }

  get tenantId(): string {
    return this.hold.tenantId;
  }

  get released(): boolean {
    return this.#released;
  }

  /**
   * Aborts when the holder must stop: a drain reached its deadline, or a shared store dropped
   * the slot. Created on first use so slots nobody watches cost nothing.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#revoked) this.#controller.abort(this.#revokeReason);
    }
    return this.#controller.signal;
  }

  /**
   * @internal The holder's one watcher (`undefined` to stop watching): told the reason once
   * if the slot is revoked, at once if it already was. Costs no AbortSignal and no listener,
   * which the session flow would otherwise pay on every session.
   */
  watchRevoke(stop: ((reason: unknown) => void) | undefined): void {
    this.#watcher = stop;
    if (stop !== undefined && this.#revoked) {
      this.#watcher = undefined;
      stop(this.#revokeReason);
    }
  }

  /** Gives the slot back. Returns true the first time, false afterwards. */
  release(): boolean {
    if (this.#released) return false;
    this.#released = true;
    this.#releaser(this);
    return true;
  }

  /** @internal Signals the holder to stop (drain deadline, lease lost). */
  revoke(reason: unknown): void {
    if (this.#revoked) return;
    this.#revoked = true;
    this.#revokeReason = reason;
    this.#controller?.abort(reason);
    const stop = this.#watcher;
    this.#watcher = undefined;
    stop?.(reason);
  }
}

/** The slots an admission holds, as an intrusive doubly linked list. */
export class SlotList {
  #head: Slot | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(slot: Slot): void {
    slot.prev = undefined;
    slot.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = slot;
    this.#head = slot;
    this.#size++;
  }

  remove(slot: Slot): void {
    if (slot.prev === undefined) this.#head = slot.next;
    else slot.prev.next = slot.next;
    if (slot.next !== undefined) slot.next.prev = slot.prev;
    slot.prev = undefined;
    slot.next = undefined;
    this.#size--;
  }

  /** A snapshot, safe to iterate while slots are released. */
  toArray(): Slot[] {
    const slots: Slot[] = [];
    for (let slot = this.#head; slot !== undefined; slot = slot.next) slots.push(slot);
    return slots;
  }
}

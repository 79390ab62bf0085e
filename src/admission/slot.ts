import type { VoiceSession } from '../iface/session.js';
import type { Lease } from './capacity-store.js';

/** Called by a slot the one time it is released. */
export type SlotReleaser = (slot: Slot) => void;

/**
 * One admitted unit of capacity. `release()` is idempotent: only the first call gives the
 * slot back, so every path (close, failure, abort, drain) can call it without counting twice.
 */
export class Slot {
  readonly tenantId: string;
  readonly lease: Lease;
  /** `performance.now()` when the slot was granted. */
  readonly acquiredAt: number;
  /** Milliseconds the request waited in the queue before the grant. */
  readonly waitedMs: number;
  /** The session bound to this slot, once created. */
  session: VoiceSession | undefined;
  #released = false;
  #releaser: SlotReleaser;
  #controller: AbortController | undefined;

  constructor(lease: Lease, waitedMs: number, releaser: SlotReleaser) {
    this.tenantId = lease.tenantId;
    this.lease = lease;
    this.waitedMs = waitedMs;
    this.acquiredAt = performance.now();
    this.#releaser = releaser;
  }

  get released(): boolean {
    return this.#released;
  }

  /**
   * Aborts when the holder must stop: a drain reached its deadline. Created on first use so
   * slots nobody watches cost nothing.
   */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** Gives the slot back. Returns true the first time, false afterwards. */
  release(): boolean {
    if (this.#released) return false;
    this.#released = true;
    this.#releaser(this);
    return true;
  }

  /** @internal Signals the holder to stop (drain deadline). */
  revoke(reason: unknown): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }
}

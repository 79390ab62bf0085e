import { randomUUID } from 'node:crypto';
import type { Admission } from '../../admission/admission.js';
import type { Slot } from '../../admission/gate/slot.js';
import { AdmissionError } from '../../iface/errors.js';
import { HttpRefusal } from './auth.js';

export const DEFAULT_TTL_SECONDS = 60;

/** A slot held for a client, released when the client releases it or stops renewing it. */
export interface HeldSlot {
  readonly id: string;
  readonly tenantId: string;
  readonly key: string | undefined;
  readonly ttlSeconds: number;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export interface SlotRequest {
  readonly tenantId: string;
  readonly key: string | undefined;
  readonly ttlSeconds: number;
  readonly priority: number | undefined;
  readonly timeoutMs: number | undefined;
}

/** Why a held slot was given back. */
export type SlotEnd = 'released' | 'expired' | 'revoked' | 'undelivered' | 'closed';

interface Lease {
  readonly id: string;
  readonly slot: Slot;
  readonly key: string | undefined;
  ttlSeconds: number;
  expiresAt: number;
  /** `performance.now()` deadline: immune to wall-clock steps. */
  deadline: number;
  timer: NodeJS.Timeout;
}

/**
 * Raw admission slots held over HTTP, each with a lease its holder renews. A holder that
 * stops renewing (a worker that crashed or hung) loses the slot at the lease's end: the
 * expiry is a timer in this process (unref()ed), and with a shared store the store's own
 * leases cover this process dying. A key (a LiveKit job id) is held by one slot at a time,
 * including while that slot is being acquired, so a job handed to two workers runs once.
 */
export class SlotLeases {
  readonly #admission: Admission;
  readonly #onEnd: (slot: HeldSlot, why: SlotEnd) => void;
  readonly #leases = new Map<string, Lease>();
  /** `tenant NUL key` -> the id of the lease holding it, or PENDING while it is acquired. */
  readonly #keys = new Map<string, string | typeof PENDING>();
  /** Epoch milliseconds at which a drain under way takes every slot back, when known. */
  #drainDeadline = Number.POSITIVE_INFINITY;

  constructor(admission: Admission, onEnd: (slot: HeldSlot, why: SlotEnd) => void) {
    this.#admission = admission;
    this.#onEnd = onEnd;
  }

  get size(): number {
    return this.#leases.size;
  }

  /**
   * Takes a slot for `request.tenantId`, waiting in the admission queue when allowed.
   * Rejects with the admission's refusal, a 409 refusal when the key is held, or `aborted`
   * when `signal` fires first.
   */
  async acquire(request: SlotRequest, signal: AbortSignal): Promise<HeldSlot> {
    const keyId = request.key === undefined ? undefined : `${request.tenantId}\u0000${request.key}`;
    if (keyId !== undefined) {
      if (this.#keys.has(keyId)) throw new HttpRefusal(409, 'duplicate', 'the key is held');
      this.#keys.set(keyId, PENDING);
    }
    let slot: Slot | undefined;
    try {
      slot = await this.#admission.acquire(
        {
          tenantId: request.tenantId,
          ...(request.priority === undefined ? {} : { priority: request.priority }),
        },
        { signal, ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }) },
      );
      if (request.key !== undefined) await this.#claim(slot, request.key);
      // A drain's deadline reached while the key was being claimed: no listener would hear it.
      if (slot.signal.aborted) throw slot.signal.reason;
    } catch (error) {
      slot?.release();
      if (keyId !== undefined) this.#keys.delete(keyId);
      throw error;
    }
    const id = randomUUID();
    if (keyId !== undefined) this.#keys.set(keyId, id);
    const lease: Lease = {
      id,
      slot,
      key: request.key,
      ttlSeconds: request.ttlSeconds,
      expiresAt: 0,
      deadline: 0,
      timer: this.#expireIn(id, request.ttlSeconds),
    };
    this.#setDeadline(lease);
    this.#leases.set(id, lease);
    // A drain that reaches its deadline takes the slot back.
    slot.signal.addEventListener('abort', () => this.#end(lease, 'revoked'), { once: true });
    return view(lease);
  }

  /**
   * Ties `key` to the slot's lease in a shared store, so that one key is held once across
   * every gateway on the limiter (the map above knows this process only). Its own namespace:
   * two line breaks, where a session's idempotency claim has one.
   */
  async #claim(slot: Slot, key: string): Promise<void> {
    const { store } = this.#admission;
    if (store.claim === undefined) return;
    let claimed: boolean;
    try {
      claimed = (await store.claim(slot.lease, `slot\n${slot.tenantId}\n${key}`)).claimed;
    } catch (cause) {
      throw new AdmissionError('store_unavailable', 'the capacity store could not be reached', {
        tenantId: slot.tenantId,
        retryAfterMs: 1_000,
        cause,
      });
    }
    if (!claimed) throw new HttpRefusal(409, 'duplicate', 'the key is held');
  }

  /**
   * A drain started that takes every slot back `timeoutMs` from now: leases renewed from now
   * on are told they end then at the latest.
   */
  drainsWithin(timeoutMs: number): void {
    this.#drainDeadline = Math.min(this.#drainDeadline, Date.now() + timeoutMs);
  }

  /**
   * Starts the lease anew; undefined when the slot is not held (or not by `mayHold`). During a
   * drain, the expiry answered is the drain's deadline when that comes first.
   */
  renew(
    id: string,
    ttlSeconds: number | undefined,
    mayHold: (tenantId: string) => boolean,
  ): HeldSlot | undefined {
    const lease = this.#find(id, mayHold);
    if (lease === undefined) return undefined;
    clearTimeout(lease.timer);
    lease.ttlSeconds = ttlSeconds ?? lease.ttlSeconds;
    this.#setDeadline(lease);
    lease.timer = this.#expireIn(id, lease.ttlSeconds);
    return view(lease);
  }

  /** Releases a slot; false when it is not held (or not by `mayHold`). */
  release(id: string, why: SlotEnd, mayHold: (tenantId: string) => boolean): boolean {
    const lease = this.#find(id, mayHold);
    if (lease === undefined) return false;
    this.#end(lease, why);
    return true;
  }

  /** Releases every slot (the gateway is closing). */
  releaseAll(): void {
    for (const lease of [...this.#leases.values()]) this.#end(lease, 'closed');
  }

  #find(id: string, mayHold: (tenantId: string) => boolean): Lease | undefined {
    const lease = this.#leases.get(id);
    if (lease === undefined || !mayHold(lease.slot.tenantId)) return undefined;
    // A process paused past the deadline may serve a renew before its timer has run.
    if (performance.now() >= lease.deadline) {
      this.#end(lease, 'expired');
      return undefined;
    }
    return lease;
  }

  #setDeadline(lease: Lease): void {
    // The lease runs on (the drain's end takes the slot back), but its holder is told the truth.
    lease.expiresAt = Math.min(Date.now() + lease.ttlSeconds * 1_000, this.#drainDeadline);
    lease.deadline = performance.now() + lease.ttlSeconds * 1_000;
  }

  #expireIn(id: string, ttlSeconds: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const lease = this.#leases.get(id);
      if (lease !== undefined) this.#end(lease, 'expired');
    }, ttlSeconds * 1_000);
    timer.unref();
    return timer;
  }

  #end(lease: Lease, why: SlotEnd): void {
    if (this.#leases.get(lease.id) !== lease) return;
    this.#leases.delete(lease.id);
    clearTimeout(lease.timer);
    if (lease.key !== undefined) this.#keys.delete(`${lease.slot.tenantId}\u0000${lease.key}`);
    lease.slot.release();
    this.#onEnd(view(lease), why);
  }
}

const PENDING = Symbol('pending');

function view(lease: Lease): HeldSlot {
  return {
    id: lease.id,
    tenantId: lease.slot.tenantId,
    key: lease.key,
    ttlSeconds: lease.ttlSeconds,
    expiresAt: lease.expiresAt,
  };
}

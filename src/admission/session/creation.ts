import type { VoiceSession } from '../../iface/session.js';
import { type LendingCallOptions, lentController, onAbort } from '../../internal/abort.js';

/** One caller waiting for a creation's session. */
interface Caller {
  readonly resolve: (session: VoiceSession) => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
  /** `performance.now()` past which it would rather be refused than wait for a slot. */
  readonly queueDeadline: number;
}

/** Tells how each caller's wait ended, so each refused caller is reported once. */
export type CallerAnswered = (tenantId: string, error: unknown) => void;

/**
 * One creation of a session and the callers waiting for it: one caller, or every request
 * with the same idempotency key. Each caller is answered on its own (at once when its signal
 * aborts); the creation itself is cancelled when nobody waits any more, or by `cancel()`
 * (setup timeout, drain deadline, lease lost). Its `signal` is the one the backend sees; a
 * backend stopping may abort it too.
 *
 * A creation lives until the session it produced is closed (`end()`), whoever still waits:
 * while it lives, its idempotency key is taken.
 */
export class Creation {
  readonly tenantId: string;
  readonly userId: string;
  readonly #controller = new AbortController();
  readonly #callers = new Set<Caller>();
  readonly #answered: CallerAnswered;
  readonly #onAbortedBy: (signal: AbortSignal, inSetup: boolean) => unknown;
  readonly #queueTimedOut: () => unknown;
  /** Until a slot is granted, a caller who joined is refused once its own bound passes. */
  #waitingForSlot = true;
  #session: VoiceSession | undefined;
  /** Its session has closed, or admission is closing it. */
  #sessionEnding = false;
  #failed = false;
  #ended = false;
  /** Made on first use: only keyed creations are waited for. */
  #gone: Promise<void> | undefined;
  #markGone: (() => void) | undefined;

  /**
   * @param answered called for every caller rejected, with its error.
   * @param abortedBy the error for a caller whose own signal aborted, `inSetup` once a slot
   *   was granted.
   * @param queueTimedOut the error for a caller whose bound on the wait for a slot passed.
   */
  constructor(
    tenantId: string,
    userId: string,
    answered: CallerAnswered,
    abortedBy: (signal: AbortSignal, inSetup: boolean) => unknown,
    queueTimedOut: () => unknown,
  ) {
    this.tenantId = tenantId;
    this.userId = userId;
    this.#answered = answered;
    this.#onAbortedBy = abortedBy;
    this.#queueTimedOut = queueTimedOut;
  }

  /** Aborts when nobody will receive the session: every caller left, or it was cancelled. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * What the backend's create is called with: `signal`, and its controller lent, so a backend
   * that aborts creates itself (on stop) needs no controller of its own.
   */
  get backendOptions(): LendingCallOptions {
    return { signal: this.#controller.signal, [lentController]: this.#controller };
  }

  /** The session, once handed to the callers. */
  get session(): VoiceSession | undefined {
    return this.#session;
  }

  /**
   * A new caller can join: still under way, or its session is still active. A session without
   * a `state` (a backend of the caller's that keeps none) is taken as active until it closes
   * or admission closes it: its slot is held for it all that time.
   */
  get joinable(): boolean {
    if (this.#ended || this.#failed) return false;
    if (this.#session !== undefined) {
      const { state } = this.#session;
      return state === undefined ? !this.#sessionEnding : state === 'active';
    }
    return !this.#controller.signal.aborted;
  }

  /** Settles once the creation is over: it failed, or its session closed and its slot is free. */
  get gone(): Promise<void> {
    if (this.#gone === undefined) {
      this.#gone = this.#ended
        ? Promise.resolve()
        : new Promise((resolve) => {
            this.#markGone = resolve;
          });
    }
    return this.#gone;
  }

  /**
   * A caller's wait for the session; rejects at once when `signal` aborts. `queueDeadline`
   * bounds its wait for a slot: the first caller's is the gate's to keep (see
   * `refuseOverdue`), a later one's is kept here.
   */
  join(signal: AbortSignal | undefined, queueDeadline: number): Promise<VoiceSession> {
    // Refused like any request with an aborted signal, even when the session is there.
    if (signal?.aborted) {
      const error = this.#onAbortedBy(signal, false);
      this.#answered(this.tenantId, error);
      // The first caller of a new creation gave up already: nobody will wait for it.
      if (this.#session === undefined && this.#callers.size === 0) this.#controller.abort(error);
      return Promise.reject(error);
    }
    if (this.#session !== undefined) return Promise.resolve(this.#session);
    const joined = this.#callers.size > 0;
    return new Promise<VoiceSession>((resolve, reject) => {
      const detachAbort = onAbort(signal, () =>
        this.#leave(caller, this.#onAbortedBy(signal!, !this.#waitingForSlot)),
      );
      const timer =
        joined && this.#waitingForSlot && queueDeadline !== Number.POSITIVE_INFINITY
          ? setTimeout(() => {
              // Once a slot is granted, the setup is under way: no bound on the queue applies.
              if (this.#waitingForSlot) this.#leave(caller, this.#queueTimedOut());
            }, queueDeadline - performance.now())
          : undefined;
      timer?.unref();
      const caller: Caller = {
        resolve,
        reject,
        detach: () => {
          detachAbort();
          clearTimeout(timer);
        },
        queueDeadline,
      };
      this.#callers.add(caller);
    });
  }

  /** A slot was granted: the callers' bounds on the wait for one no longer apply. */
  admitted(): void {
    this.#waitingForSlot = false;
  }

  /** A caller stops waiting, answered `error`; the creation stops when nobody waits. */
  #leave(caller: Caller, error: unknown): void {
    if (!this.#callers.delete(caller)) return;
    this.#rejectCaller(caller, error);
    if (this.#callers.size === 0) this.#controller.abort(error);
  }

  /** Nobody will receive the session: aborts the setup and answers every caller with `error`. */
  cancel(error: unknown): void {
    // Aborted first: a caller coming in while the others are answered (from a `refused`
    // listener) cannot join a creation that will hand its session to nobody.
    if (!this.#controller.signal.aborted) this.#controller.abort(error);
    this.#rejectAll(error);
  }

  /** Hands the session to every caller. False when nobody waits (the signal has aborted). */
  deliver(session: VoiceSession): boolean {
    if (this.#controller.signal.aborted) return false;
    this.#session = session;
    const callers = [...this.#callers];
    this.#callers.clear();
    for (const caller of callers) {
      caller.detach();
      caller.resolve(session);
    }
    return true;
  }

  /**
   * The wait for a slot ran out for the caller who set its bound: answers `error` to every
   * caller whose own bound has passed by `now`. Returns the latest bound of those still
   * waiting, for which the creation waits on, or undefined when nobody does.
   */
  refuseOverdue(error: unknown, now: number): number | undefined {
    let latest: number | undefined;
    for (const caller of [...this.#callers]) {
      if (caller.queueDeadline <= now) {
        this.#callers.delete(caller);
        this.#rejectCaller(caller, error);
      } else latest = Math.max(latest ?? caller.queueDeadline, caller.queueDeadline);
    }
    return latest;
  }

  /** The creation failed: every caller still waiting gets `error`; nobody can join it now. */
  fail(error: unknown): void {
    this.#failed = true;
    this.#rejectAll(error);
  }

  /** Its session has closed, or admission is closing it: no caller joins it any more. */
  sessionEnding(): void {
    this.#sessionEnding = true;
  }

  /** Everything the creation paid for is gone; its key is free. */
  end(): void {
    this.#ended = true;
    this.#markGone?.();
  }

  #rejectAll(error: unknown): void {
    const callers = [...this.#callers];
    this.#callers.clear();
    for (const caller of callers) this.#rejectCaller(caller, error);
  }

  #rejectCaller(caller: Caller, error: unknown): void {
    caller.detach();
    this.#answered(this.tenantId, error);
    caller.reject(error);
  }
}

/**
 * The creations on this instance that own an idempotency key, by tenant and key. A key is
 * taken from the start of its creation until that creation is over (`Creation.end()`).
 */
export class KeyedCreations {
  readonly #byKey = new Map<string, Creation>();

  get(tenantId: string, key: string): Creation | undefined {
    return this.#byKey.get(mapKey(tenantId, key));
  }

  /** Takes the key for `creation` until it ends. */
  hold(key: string, creation: Creation): void {
    const id = mapKey(creation.tenantId, key);
    this.#byKey.set(id, creation);
    void creation.gone.then(() => {
      if (this.#byKey.get(id) === creation) this.#byKey.delete(id);
    });
  }
}

// Tenant ids and keys have no control characters, so NUL cannot be part of either.
function mapKey(tenantId: string, key: string): string {
  return `${tenantId}\u0000${key}`;
}

import { AdmissionError } from '../iface/errors.js';
import type { VoiceSession } from '../iface/session.js';
import { onAbort } from '../internal/abort.js';

/**
 * One creation shared by every request with the same idempotency key. The backend is asked
 * once; each caller may give up on its own (its promise rejects with `aborted`), and the
 * creation itself is aborted only when every caller has given up.
 */
export class SharedCreation {
  readonly userId: string;
  readonly #controller = new AbortController();
  #interested = 0;
  #promise: Promise<VoiceSession> | undefined;
  #session: VoiceSession | undefined;

  constructor(userId: string) {
    this.userId = userId;
  }

  /** Aborts when every caller has aborted. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get session(): VoiceSession | undefined {
    return this.#session;
  }

  /**
   * Starts the creation; called once, right after construction. Returns the creation's own
   * outcome (independent of any caller giving up), which callers observe through `join()`.
   */
  start(create: (signal: AbortSignal) => Promise<VoiceSession>): Promise<VoiceSession> {
    this.#promise = create(this.#controller.signal).then((session) => {
      this.#session = session;
      return session;
    });
    return this.#promise;
  }

  /** A caller's view of the creation: rejects early if that caller's own signal aborts. */
  join(signal: AbortSignal | undefined, tenantId: string): Promise<VoiceSession> {
    const promise = this.#promise!;
    if (this.#session !== undefined) return Promise.resolve(this.#session);
    if (signal?.aborted) return Promise.reject(abortedError(tenantId, signal.reason));
    this.#interested++;
    return new Promise<VoiceSession>((resolve, reject) => {
      let settled = false;
      const detach = onAbort(signal, () => {
        if (settled) return;
        settled = true;
        reject(abortedError(tenantId, signal?.reason));
        this.#leave();
      });
      promise.then(
        (session) => {
          detach();
          if (settled) return;
          settled = true;
          this.#interested--;
          resolve(session);
        },
        (error: unknown) => {
          detach();
          if (settled) return;
          settled = true;
          this.#interested--;
          reject(error);
        },
      );
    });
  }

  #leave(): void {
    this.#interested--;
    if (this.#interested === 0 && this.#session === undefined) {
      this.#controller.abort(
        abortedError(undefined, 'every caller waiting for this session aborted'),
      );
    }
  }
}

/**
 * The creations under way or open on this instance, by tenant and idempotency key. A key is
 * free again once its creation fails or its session ends.
 */
export class SharedCreations {
  readonly #byKey = new Map<string, SharedCreation>();

  /** The creation holding the key, unless every caller of it gave up. */
  find(tenantId: string, key: string): SharedCreation | undefined {
    const creation = this.#byKey.get(mapKey(tenantId, key));
    return creation === undefined || creation.signal.aborted ? undefined : creation;
  }

  /** Starts a creation under the key, replacing one whose callers all gave up. */
  start(
    tenantId: string,
    key: string,
    userId: string,
    create: (signal: AbortSignal) => Promise<VoiceSession>,
  ): SharedCreation {
    const id = mapKey(tenantId, key);
    const creation = new SharedCreation(userId);
    this.#byKey.set(id, creation);
    const forget = (): void => {
      if (this.#byKey.get(id) === creation) this.#byKey.delete(id);
    };
    void creation.start(create).then((session) => session.closed.then(forget), forget);
    return creation;
  }
}

// Tenant ids and keys have no control characters, so NUL cannot be part of either.
function mapKey(tenantId: string, key: string): string {
  return `${tenantId}\u0000${key}`;
}

export function abortedError(tenantId: string | undefined, cause: unknown): AdmissionError {
  return new AdmissionError('aborted', 'the request was aborted before it was admitted', {
    tenantId,
    cause,
  });
}

import { BackendError } from '../iface/errors.js';
import type {
  ConnectionInfo,
  SessionEnd,
  SessionEndReason,
  SessionState,
  VoiceSession,
} from '../iface/session.js';
import { messageOf } from '../internal/thrown.js';

/** Provider-side teardown of a session's resources (e.g. deleting its room). */
export type SessionTeardown = (reason: SessionEndReason) => Promise<void>;

export interface ManagedSessionInit<C extends ConnectionInfo> {
  readonly id: string;
  readonly provider: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly connection: C;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
  readonly teardown: SessionTeardown;
  /** Called synchronously, exactly once, when the session ends. */
  readonly onEnded: (session: ManagedSession<C>, end: SessionEnd) => void;
}

/**
 * The one session implementation every provider uses. It owns the lifecycle so that
 * `closed` settles exactly once whichever way the session ends first: `close()`, the
 * provider reporting the end (`markEnded`), or a teardown that fails.
 */
export class ManagedSession<C extends ConnectionInfo = ConnectionInfo> implements VoiceSession<C> {
  readonly id: string;
  readonly provider: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly connection: C;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
  readonly createdAt = Date.now();
  readonly closed: Promise<SessionEnd>;

  #state: SessionState = 'active';
  #resolveClosed!: (end: SessionEnd) => void;
  #closing: Promise<SessionEnd> | undefined;
  #settledEnd: SessionEnd | undefined;
  readonly #teardown: SessionTeardown;
  readonly #onEnded: ManagedSessionInit<C>['onEnded'];

  constructor(init: ManagedSessionInit<C>) {
    this.id = init.id;
    this.provider = init.provider;
    this.tenantId = init.tenantId;
    this.userId = init.userId;
    this.connection = init.connection;
    this.metadata = init.metadata;
    this.#teardown = init.teardown;
    this.#onEnded = init.onEnded;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get state(): SessionState {
    return this.#state;
  }

  close(reason: SessionEndReason = 'closed'): Promise<SessionEnd> {
    if (this.#state === 'closed') return this.closed;
    if (this.#closing !== undefined) return this.#closing;
    this.#state = 'closing';
    // A teardown that throws instead of rejecting fails the close alike: it must not leave
    // the session closing forever, nor make `close()` (and `stop()`) throw.
    this.#closing = new Promise<void>((resolve) => resolve(this.#teardown(reason))).then(
      () => this.#end(reason, undefined),
      (error: unknown) => this.#end(reason, toCloseError(error, this.provider)),
    );
    return this.#closing;
  }

  /**
   * The provider saw the session end on its own (room finished, simulated call completed):
   * settle without tearing anything down. A no-op when the session already ended.
   */
  markEnded(reason: SessionEndReason): void {
    this.#end(reason, undefined);
  }

  /** Keeps secrets such as the caller's token out of logs and JSON dumps. */
  toJSON(): Record<string, unknown> {
    const { token: _token, ...connection } = this.connection;
    return {
      id: this.id,
      provider: this.provider,
      tenantId: this.tenantId,
      userId: this.userId,
      state: this.#state,
      createdAt: this.createdAt,
      connection,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, unknown> {
    return this.toJSON();
  }

  #end(reason: SessionEndReason, error: BackendError | undefined): SessionEnd {
    if (this.#state === 'closed') return this.#settledEnd!;
    this.#state = 'closed';
    const end: SessionEnd =
      error === undefined
        ? { reason, endedAt: Date.now() }
        : { reason, endedAt: Date.now(), error };
    this.#settledEnd = end;
    this.#resolveClosed(end);
    this.#onEnded(this, end);
    return end;
  }
}

function toCloseError(error: unknown, provider: string): BackendError {
  if (error instanceof BackendError) return error;
  const message = messageOf(error);
  return new BackendError('internal', 'close_session', `closing the session failed: ${message}`, {
    provider,
    cause: error,
  });
}

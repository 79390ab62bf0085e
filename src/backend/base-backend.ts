import { randomUUID } from 'node:crypto';
import type { BackendConfig, BackendState, CallOptions, VoiceBackend } from '../iface/backend.js';
import { BackendError, type BackendOperation, ConfigError } from '../iface/errors.js';
import type { HealthStatus } from '../iface/health.js';
import type {
  ConnectionInfo,
  SessionConfig,
  SessionEndReason,
  VoiceSession,
} from '../iface/session.js';
import { lentBy, noop, onAbort } from '../internal/abort.js';
import { tenantOf, validateSessionConfig } from '../internal/session-config.js';
import { messageOf } from '../internal/thrown.js';
import { describeValue } from '../internal/validate.js';
import { ManagedSession, type SessionTeardown } from './managed-session.js';

/** What a provider hands back once its side of a session exists. */
export interface OpenedSession<C extends ConnectionInfo> {
  readonly connection: C;
  /** Releases the provider's resources; must tolerate them being gone already. */
  readonly teardown: SessionTeardown;
}

export interface OpenSessionRequest {
  readonly id: string;
  readonly tenantId: string;
  readonly config: SessionConfig;
  /** Aborts when the caller aborts or the backend stops. */
  readonly signal: AbortSignal;
}

/**
 * Everything providers share: lifecycle, session bookkeeping (one source of truth for the
 * active count), abort handling and error wrapping. A provider implements `openSession` and
 * `probeHealth`, and calls `endSession` when its side reports a session gone.
 */
export abstract class BaseBackend<C extends ConnectionInfo = ConnectionInfo>
  implements VoiceBackend<C>
{
  abstract readonly provider: string;
  readonly config: Readonly<BackendConfig>;

  #state: BackendState = 'created';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #sessions = new Map<string, ManagedSession<C>>();
  /** Creates under way, by session id; `stop()` aborts them. */
  readonly #inflight = new Map<
    string,
    { readonly controller: AbortController; readonly done: Promise<void> }
  >();

  protected constructor(config: BackendConfig) {
    this.config = config;
  }

  /** Creates the provider side of a session. Must honour `request.signal`. */
  protected abstract openSession(request: OpenSessionRequest): Promise<OpenedSession<C>>;

  /** Checks the provider; may throw, which reads as unhealthy with the error's message. */
  protected abstract probeHealth(
    signal: AbortSignal,
  ): Promise<Omit<HealthStatus, 'checkedAt' | 'latencyMs'>>;

  /** Provider start-up work (background loops, connections). */
  protected async onStart(): Promise<void> {}

  /**
   * Provider shutdown work, run after every session is closed. Its failure rejects `stop()`
   * as a BackendError; the backend is stopped all the same.
   */
  protected async onStop(): Promise<void> {}

  /**
   * Session ids become room names, so they must be unique forever, not only per process; a
   * create given the id of a session open or being created here is refused before any I/O.
   */
  protected newSessionId(): string {
    return randomUUID();
  }

  get state(): BackendState {
    return this.#state;
  }

  start(): Promise<void> {
    if (this.#state === 'running') return Promise.resolve();
    if (this.#starting !== undefined) return this.#starting;
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(
        this.error('stopped', 'start', 'the backend was stopped; create a new one'),
      );
    }
    this.#state = 'starting';
    this.#starting = this.onStart().then(
      () => {
        this.#state = 'running';
        this.#starting = undefined;
      },
      (error: unknown) => {
        this.#state = 'created';
        this.#starting = undefined;
        throw this.wrap(error, 'start', 'unavailable');
      },
    );
    return this.#starting;
  }

  stop(): Promise<void> {
    if (this.#stopping !== undefined) return this.#stopping;
    this.#state = 'stopping';
    const creates = [...this.#inflight.values()];
    for (const { controller } of creates) {
      controller.abort(this.error('stopped', 'create_session', 'the backend is stopping'));
    }
    this.#stopping = (async () => {
      // Creates under way undo their provider work on abort; wait so nothing outlives stop().
      await Promise.all(creates.map(({ done }) => done));
      await Promise.all([...this.#sessions.values()].map((s) => s.close('backend_stopped')));
      try {
        await this.onStop();
      } catch (error) {
        throw this.wrap(error, 'stop', 'internal');
      } finally {
        // Its sessions are closed and it refuses creates: stopped, even if its own shutdown failed.
        this.#state = 'stopped';
      }
    })();
    return this.#stopping;
  }

  /**
   * The provider's own rules on a session config, checked before any I/O by admission and by
   * `createSession`: throws a `ConfigError` naming the field. None by default.
   */
  checkSessionConfig(_config: SessionConfig): void {}

  async createSession(
    sessionConfig: SessionConfig,
    options: CallOptions = {},
  ): Promise<VoiceSession<C>> {
    // Every later step sees this snapshot, never the caller's object again.
    const config = validateSessionConfig(sessionConfig);
    this.checkSessionConfig(config);
    this.assertRunning('create_session');
    const { signal } = options;
    if (signal?.aborted) throw this.abortError(signal, 'create_session');
    const id = this.newSessionId();
    // Sessions are kept by id: a second one under the same id would be lost to the count and
    // to stop(), and its room would be the first one's.
    if (this.#sessions.has(id) || this.#inflight.has(id)) {
      throw this.error(
        'internal',
        'create_session',
        `newSessionId() returned ${JSON.stringify(id)}, the id of a session still open or being created; session ids must be unique`,
      );
    }

    // A lent controller is the caller's signal already; `stop()` may abort it directly.
    const lent = lentBy(options);
    const controller = lent ?? new AbortController();
    const detach =
      lent === undefined ? onAbort(signal, () => controller.abort(signal?.reason)) : noop;
    let finished = (): void => undefined;
    const create = { controller, done: new Promise<void>((resolve) => (finished = resolve)) };
    this.#inflight.set(id, create);
    const tenantId = tenantOf(config);
    try {
      const opened = await this.openSession({ id, tenantId, config, signal: controller.signal });
      // Without a teardown the session could never be closed, nor its provider work undone.
      if (!isOpenedSession(opened)) {
        throw this.error(
          'internal',
          'create_session',
          `openSession resolved with ${describeValue(opened)}, not an OpenedSession (connection, teardown)`,
        );
      }
      if (controller.signal.aborted) {
        // The provider finished despite the abort: undo its work before reporting the abort
        // (a failing teardown becomes the abort error's cause, below).
        await opened.teardown('aborted');
        throw this.abortError(controller.signal, 'create_session');
      }
      const session = new ManagedSession<C>({
        id,
        provider: this.provider,
        tenantId,
        userId: config.userId,
        connection: opened.connection,
        metadata: config.metadata,
        teardown: opened.teardown,
        onEnded: (ended) => {
          this.#sessions.delete(ended.id);
        },
      });
      this.#sessions.set(id, session);
      return session;
    } catch (error) {
      if (controller.signal.aborted)
        throw this.abortError(controller.signal, 'create_session', error);
      // The caller's config, found unservable only now: still the caller's error.
      if (error instanceof ConfigError) throw error;
      throw this.wrap(error, 'create_session', 'setup_failed');
    } finally {
      detach();
      this.#inflight.delete(id);
      finished();
    }
  }

  async healthCheck(options: CallOptions = {}): Promise<HealthStatus> {
    const started = performance.now();
    const finish = (status: Omit<HealthStatus, 'checkedAt' | 'latencyMs'>): HealthStatus => ({
      ...status,
      checkedAt: Date.now(),
      latencyMs: performance.now() - started,
    });
    if (this.#state !== 'running') {
      return finish({ healthy: false, status: 'unhealthy', reason: `backend is ${this.#state}` });
    }
    const signal = options.signal ?? new AbortController().signal;
    try {
      signal.throwIfAborted();
      return finish(await this.probeHealth(signal));
    } catch (error) {
      if (signal.aborted) throw this.abortError(signal, 'health_check', error);
      const reason = messageOf(error);
      return finish({ healthy: false, status: 'unhealthy', reason });
    }
  }

  getActiveSessionCount(): number {
    return this.#sessions.size;
  }

  getSession(id: string): VoiceSession<C> | undefined {
    return this.#sessions.get(id);
  }

  listSessions(): VoiceSession<C>[] {
    return [...this.#sessions.values()];
  }

  /** For providers: the session ended on the provider's side; settles it without teardown. */
  protected endSession(id: string, reason: SessionEndReason): boolean {
    const session = this.#sessions.get(id);
    if (session === undefined) return false;
    session.markEnded(reason);
    return true;
  }

  protected assertRunning(op: BackendOperation): void {
    if (this.#state === 'running') return;
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      throw this.error('stopped', op, `the ${this.provider} backend is ${this.#state}`);
    }
    throw this.error(
      'not_started',
      op,
      `the ${this.provider} backend is not started; call start() first`,
    );
  }

  protected error(
    code: BackendError['code'],
    op: BackendOperation,
    message: string,
    cause?: unknown,
  ): BackendError {
    return new BackendError(code, op, message, { provider: this.provider, cause });
  }

  /** Keeps BackendErrors as they are and wraps anything else under `fallback`. */
  protected wrap(
    error: unknown,
    op: BackendOperation,
    fallback: BackendError['code'],
  ): BackendError {
    if (error instanceof BackendError) return error;
    const message = messageOf(error);
    return this.error(fallback, op, `${op.replace('_', ' ')} failed: ${message}`, error);
  }

  private abortError(signal: AbortSignal, op: BackendOperation, cause?: unknown): BackendError {
    if (signal.reason instanceof BackendError) return signal.reason;
    return this.error('aborted', op, `${op.replace('_', ' ')} was aborted`, cause ?? signal.reason);
  }
}

/** Whether a provider's openSession resolved with what a session needs to be kept and closed. */
function isOpenedSession(value: unknown): value is OpenedSession<ConnectionInfo> {
  const opened = value as Partial<OpenedSession<ConnectionInfo>> | null;
  return (
    typeof opened === 'object' &&
    opened !== null &&
    typeof opened.connection === 'object' &&
    opened.connection !== null &&
    typeof opened.teardown === 'function'
  );
}

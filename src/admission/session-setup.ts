import type { VoiceBackend } from '../iface/backend.js';
import { AdmissionError, BackendError } from '../iface/errors.js';
import type { SessionConfig, VoiceSession } from '../iface/session.js';
import type { AdaptiveLimit } from './adaptive/adaptive-limit.js';
import type { SetupSmoother } from './setup-smoother.js';
import { abortedError } from './shared-creation.js';
import type { Slot } from './slot.js';
import type { AdmissionSpan } from './tracer.js';

export interface SessionSetupOptions {
  readonly backend: VoiceBackend;
  readonly smoother: SetupSmoother;
  /** A setup taking longer is aborted with a `timeout` BackendError. */
  readonly timeoutMs: number;
  /** Adaptive limits to feed with each finished setup. */
  readonly sessionLimit: AdaptiveLimit | undefined;
  readonly setupLimit: AdaptiveLimit | undefined;
  /** Sessions held at the moment a setup starts (what the session limit is judged against). */
  readonly activeSessions: () => number;
}

/** When a backend create started, and how much was in use then. */
interface SetupStart {
  readonly at: number;
  readonly sessions: number;
  readonly setups: number;
}

/**
 * The setup phase of admitted sessions: the backend's create, run through burst smoothing,
 * under the setup timeout, the caller's signal and the drain deadline. Knows which slots are in
 * it, and teaches the adaptive limits from each setup that the backend itself finished.
 */
export class SessionSetups {
  readonly #options: SessionSetupOptions;
  readonly #inProgress = new Set<Slot>();
  /** Aborts every setup at the drain deadline. */
  readonly #deadline = new AbortController();

  constructor(options: SessionSetupOptions) {
    this.#options = options;
  }

  /** Setups under way. */
  get size(): number {
    return this.#inProgress.size;
  }

  has(slot: Slot): boolean {
    return this.#inProgress.has(slot);
  }

  /** Aborts the setups under way and any started later (the drain deadline). */
  abortAll(reason: AdmissionError): void {
    this.#deadline.abort(reason);
  }

  /**
   * Creates the session `slot` was granted for. Rejects with `aborted` when the caller gave up,
   * `draining` at the drain deadline, or the backend's own error (a `timeout` BackendError when
   * it took too long). The caller owns the slot on every path.
   */
  async run(
    config: SessionConfig,
    slot: Slot,
    signal: AbortSignal | undefined,
    span: AdmissionSpan | undefined,
  ): Promise<VoiceSession> {
    const { backend, smoother, timeoutMs } = this.#options;
    const timeout = new AbortController();
    const timer = setTimeout(() => {
      timeout.abort(
        new BackendError(
          'timeout',
          'create_session',
          `session setup took longer than ${timeoutMs} ms`,
          {
            provider: backend.provider,
          },
        ),
      );
    }, timeoutMs);
    timer.unref();
    const setupSignal = AbortSignal.any(
      signal === undefined
        ? [timeout.signal, this.#deadline.signal]
        : [signal, timeout.signal, this.#deadline.signal],
    );
    this.#inProgress.add(slot);
    let start: SetupStart | undefined;
    const create = (): Promise<VoiceSession> => {
      start = {
        at: performance.now(),
        sessions: this.#options.activeSessions(),
        setups: smoother.running,
      };
      return backend.createSession(config, { signal: setupSignal });
    };
    try {
      const session = await smoother.run(
        span === undefined ? create : () => span.runCreate(create),
        setupSignal,
      );
      if (start !== undefined) this.#learn(start, false);
      return session;
    } catch (caught) {
      const error = this.#name(caught, slot.tenantId, signal);
      // The caller or a drain stopping a setup says nothing about the backend's capacity.
      if (start !== undefined && !(error instanceof AdmissionError)) this.#learn(start, true);
      throw error;
    } finally {
      clearTimeout(timer);
      this.#inProgress.delete(slot);
    }
  }

  #learn(start: SetupStart, failed: boolean): void {
    const latencyMs = performance.now() - start.at;
    this.#options.sessionLimit?.record({ latencyMs, failed, inflight: start.sessions });
    this.#options.setupLimit?.record({ latencyMs, failed, inflight: start.setups });
  }

  /** Names a failed setup by what stopped it: the caller, a drain, or the backend itself. */
  #name(caught: unknown, tenantId: string, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return abortedError(tenantId, signal.reason);
    if (this.#deadline.signal.aborted) {
      return new AdmissionError('draining', 'the drain deadline was reached during session setup', {
        tenantId,
        cause: caught,
      });
    }
    return caught;
  }
}

import type { VoiceBackend } from '../iface/backend.js';
import type { HealthStatus } from '../iface/health.js';
import { messageOf } from '../internal/thrown.js';
import { describeValue } from '../internal/validate.js';

export interface HealthGateConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
}

/**
 * Runs the backend's health check in the background and caches the answer, so admission
 * decides on the cached state: never one health round trip per create. A check that throws or
 * outlasts `timeoutMs` counts as a failure; the gate closes after `failureThreshold`
 * consecutive failures and opens again on the first success.
 */
export class HealthGate {
  readonly #backend: VoiceBackend;
  readonly #config: HealthGateConfig;
  readonly #onChange: (status: HealthStatus, previous: HealthStatus | undefined) => void;
  #status: HealthStatus | undefined;
  #open = true;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextCheckAt = 0;
  #checking: AbortController | undefined;
  /** When the check under way gives up at the latest. */
  #checkDeadline = 0;
  /**
   * The answer of the newest check while it runs, for the callers of the checks it superseded;
   * once it has answered, that answer is `#status` (see `#check`).
   */
  #newest: Promise<HealthStatus> | undefined;
  #stopped = false;

  constructor(
    backend: VoiceBackend,
    config: HealthGateConfig,
    onChange: (status: HealthStatus, previous: HealthStatus | undefined) => void,
  ) {
    this.#backend = backend;
    this.#config = config;
    this.#onChange = onChange;
  }

  /** Runs the first check now, then every `intervalMs`. Until the first answer, the gate is open. */
  start(): void {
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const checking = this.#checking;
    this.#checking = undefined;
    // A stopped gate answers a superseded check with its own status.
    this.#newest = undefined;
    checking?.abort();
  }

  /** False once the backend is considered unhealthy. */
  get open(): boolean {
    return this.#open;
  }

  get status(): HealthStatus | undefined {
    return this.#status;
  }

  /**
   * How long until a check may reopen the gate: the next one, or the one under way, which
   * answers by its timeout (its start time passed; "now" would invite a retry storm).
   */
  retryAfterMs(): number {
    const answerAt = this.#checking === undefined ? this.#nextCheckAt : this.#checkDeadline;
    return Math.max(1, Math.ceil(answerAt - performance.now()));
  }

  /**
   * Runs a check now (also used by tests and by operators after a fix). A check under way is
   * superseded: its callers get this one's answer.
   */
  checkNow(): Promise<HealthStatus> {
    if (this.#checking !== undefined) this.#checking.abort();
    const controller = new AbortController();
    this.#checking = controller;
    this.#checkDeadline = performance.now() + this.#config.timeoutMs;
    const check = this.#check(controller);
    // Kept while it runs; one that answered inside the call (a backend throwing at once) is
    // over already, and its answer is `#status`.
    this.#newest = this.#checking === controller ? check : undefined;
    return check;
  }

  async #check(controller: AbortController): Promise<HealthStatus> {
    const timeout = setTimeout(() => controller.abort(), this.#config.timeoutMs);
    timeout.unref();
    const started = performance.now();
    let status: HealthStatus;
    try {
      status = await Promise.race([
        this.#backend.healthCheck({ signal: controller.signal }),
        abortedAsUnhealthy(controller.signal, this.#config.timeoutMs),
      ]);
      // Any other answer fails the check: read as a status, it would throw in the background,
      // or admit under a state that stats, events and the health gauge cannot name.
      if (!isHealthStatus(status)) {
        throw new Error(`answered with ${describeValue(status)}, not a HealthStatus`);
      }
    } catch (error) {
      status = {
        healthy: false,
        status: 'unhealthy',
        checkedAt: Date.now(),
        latencyMs: performance.now() - started,
        reason: controller.signal.aborted
          ? `health check did not answer within ${this.#config.timeoutMs} ms`
          : `health check failed: ${messageOf(error)}`,
      };
    } finally {
      clearTimeout(timeout);
    }
    // A check superseded by a newer one (or by stop()) must not record its abort as a failure,
    // nor answer it: the backend did not fail it. Once the newest check has answered, its
    // answer is the status it recorded (while it is the newest it holds `#checking`, and it
    // records unless stopped).
    if (this.#checking !== controller) {
      return this.#stopped ? status : (this.#newest ?? this.#status ?? status);
    }
    // The newest check: every later one would have taken `#checking`.
    this.#checking = undefined;
    this.#newest = undefined;
    if (!this.#stopped) this.#record(status);
    return status;
  }

  #record(status: HealthStatus): void {
    const previous = this.#status;
    this.#status = status;
    this.#failures = status.healthy ? 0 : this.#failures + 1;
    const open = status.healthy || this.#failures < this.#config.failureThreshold;
    const changed = open !== this.#open || previous?.status !== status.status;
    this.#open = open;
    if (changed) this.#onChange(status, previous);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#nextCheckAt = performance.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.checkNow().finally(() => this.#schedule(this.#config.intervalMs));
    }, delayMs);
    this.#timer.unref();
  }
}

/** Settles when the signal aborts, so a check that ignores its signal cannot hang the gate. */
function abortedAsUnhealthy(signal: AbortSignal, timeoutMs: number): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener(
      'abort',
      () => reject(new Error(`health check did not answer within ${timeoutMs} ms`)),
      { once: true },
    );
  });
}

const HEALTH_STATES: ReadonlySet<unknown> = new Set(['healthy', 'degraded', 'unhealthy']);

/** A known `status`, with `healthy` true unless it is `unhealthy` (as HealthStatus says). */
function isHealthStatus(value: unknown): value is HealthStatus {
  const { healthy, status } = (value ?? {}) as Partial<HealthStatus>;
  return (
    typeof healthy === 'boolean' &&
    HEALTH_STATES.has(status) &&
    healthy === (status !== 'unhealthy')
  );
}

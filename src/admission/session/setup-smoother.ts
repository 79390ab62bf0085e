import PQueue from 'p-queue';
import { onAbort } from '../../internal/abort.js';
import type { AdaptiveLimit } from '../adaptive/adaptive-limit.js';

export interface SetupLimits {
  readonly concurrency: number | AdaptiveLimit;
  readonly perSecond: number;
}

/**
 * Spreads session setups out: at most `concurrency` in their setup phase and at most
 * `perSecond` starts per second, spaced evenly (one start every 1/perSecond s) rather than in
 * bursts at each second's edge. Slots are reserved before a setup enters here, so smoothing
 * only delays work: it never decides admission.
 *
 * An abort can only stop a setup from starting. Once it runs, the setup's own settling is the
 * answer (p-queue would race a running task against the signal and free its place while the
 * backend's create carries on, letting setups and slots outrun their caps).
 */
export class SetupSmoother {
  readonly #queue: PQueue | undefined;

  constructor(limits: SetupLimits) {
    const { concurrency, perSecond } = limits;
    const fixed = typeof concurrency === 'number' ? concurrency : undefined;
    if (fixed === Number.POSITIVE_INFINITY && perSecond === Number.POSITIVE_INFINITY) return;
    const queue = new PQueue({
      concurrency: fixed ?? (concurrency as AdaptiveLimit).current,
      ...(perSecond === Number.POSITIVE_INFINITY
        ? {}
        : { intervalCap: 1, interval: 1000 / perSecond }),
    });
    // p-queue starts more work at once when its concurrency is raised.
    if (fixed === undefined) {
      (concurrency as AdaptiveLimit).onChange((limit) => {
        queue.concurrency = limit;
      });
    }
    this.#queue = queue;
  }

  /** The cap on concurrent setups now in force. */
  get concurrency(): number {
    return this.#queue?.concurrency ?? Number.POSITIVE_INFINITY;
  }

  /** Setups waiting for their turn. */
  get waiting(): number {
    return this.#queue?.size ?? 0;
  }

  /** Setups running now (only counted when smoothing is on). */
  get running(): number {
    return this.#queue?.pending ?? 0;
  }

  /**
   * Runs `setup` when its turn comes. Rejects with the signal's reason if it aborts before
   * then; once `setup` has started, settles exactly as `setup` does.
   */
  run<T>(setup: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const queue = this.#queue;
    if (queue === undefined) return setup();
    if (signal.aborted) return Promise.reject(signal.reason);
    // p-queue only ever sees this signal, aborted while the setup still waits for its turn.
    const leave = new AbortController();
    let started = false;
    const detach = onAbort(signal, () => leave.abort(signal.reason));
    return queue
      .add(
        () => {
          started = true;
          detach();
          return signal.aborted ? Promise.reject(signal.reason) : setup();
        },
        { signal: leave.signal },
      )
      .catch((error: unknown) => {
        detach();
        // p-queue rejects an entry removed by abort with its own AbortError; surface our reason.
        throw !started && signal.aborted ? signal.reason : error;
      });
  }
}

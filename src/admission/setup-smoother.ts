import PQueue from 'p-queue';

export interface SetupLimits {
  readonly concurrency: number;
  readonly perSecond: number;
}

/**
 * Spreads session setups out: at most `concurrency` in their setup phase and at most
 * `perSecond` starts per second, spaced evenly (one start every 1/perSecond s) rather than in
 * bursts at each second's edge. Slots are reserved before a setup enters here, so smoothing
 * only delays work: it never decides admission.
 */
export class SetupSmoother {
  readonly #queue: PQueue | undefined;

  constructor(limits: SetupLimits) {
    const unlimited =
      limits.concurrency === Number.POSITIVE_INFINITY &&
      limits.perSecond === Number.POSITIVE_INFINITY;
    if (unlimited) return;
    this.#queue = new PQueue({
      concurrency: limits.concurrency,
      ...(limits.perSecond === Number.POSITIVE_INFINITY
        ? {}
        : { intervalCap: 1, interval: 1000 / limits.perSecond }),
    });
  }

  /** Setups waiting for their turn. */
  get waiting(): number {
    return this.#queue?.size ?? 0;
  }

  /** Setups running now (only counted when smoothing is on). */
  get running(): number {
    return this.#queue?.pending ?? 0;
  }

  /** Runs `setup` when its turn comes; rejects with the signal's reason if aborted first. */
  run<T>(setup: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const queue = this.#queue;
    if (queue === undefined) return setup();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return queue.add(setup, signal === undefined ? {} : { signal }).catch((error: unknown) => {
      // p-queue rejects an entry removed by abort with its own AbortError; surface our reason.
      throw signal?.aborted ? signal.reason : error;
    });
  }
}

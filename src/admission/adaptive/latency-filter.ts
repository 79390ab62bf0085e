/**
 * Latency as the adaptive algorithms read it: a short moving average (jitter averaged out
 * over a few setups) and a baseline standing for the backend's latency without contention:
 * the lowest value of a longer moving average (a minimum of raw or short-averaged samples
 * would sit in the jitter's low tail and make ordinary setups look slow). The baseline creeps
 * up slowly, so a backend that really became slower is eventually taken as it is.
 */
export class LatencyFilter {
  #short = Number.NaN;
  #long = Number.NaN;
  #baseline = Number.POSITIVE_INFINITY;
  #samples = 0;
  #shortSamples = 0;
  readonly #shortWindow: number;
  readonly #longWindow: number;
  readonly #baselineDrift: number;
  readonly #fullWindow: boolean;

  /**
   * `fullWindow`: an average counts only once its window has filled: the short one is NaN
   * until then (one or two setups are jitter, not a trend), and the baseline is no lower than
   * the plain mean until the long window has filled (the lowest mean of the first few samples
   * sits in the jitter's low tail).
   */
  constructor(
    shortWindow: number,
    baselineWindow: number,
    { fullWindow = false }: { readonly fullWindow?: boolean } = {},
  ) {
    this.#shortWindow = shortWindow;
    this.#longWindow = shortWindow * 4;
    this.#baselineDrift = 1 + 1 / baselineWindow;
    this.#fullWindow = fullWindow;
  }

  get short(): number {
    return this.#fullWindow && this.#shortSamples < this.#shortWindow ? Number.NaN : this.#short;
  }

  get baseline(): number {
    return this.#baseline;
  }

  /** Forgets the short average: its setups ran under a limit no longer in force. */
  restartShort(): void {
    this.#short = Number.NaN;
    this.#shortSamples = 0;
  }

  add(latencyMs: number): void {
    this.#samples++;
    this.#shortSamples++;
    // Plain means until the windows fill, then exponential moving averages.
    this.#short = average(this.#short, latencyMs, Math.min(this.#shortSamples, this.#shortWindow));
    this.#long = average(this.#long, latencyMs, Math.min(this.#samples, this.#longWindow));
    this.#baseline =
      this.#fullWindow && this.#samples <= this.#longWindow
        ? this.#long
        : Math.min(this.#long, this.#baseline * this.#baselineDrift);
  }
}

function average(mean: number, sample: number, window: number): number {
  return Number.isNaN(mean) ? sample : mean + (sample - mean) / window;
}

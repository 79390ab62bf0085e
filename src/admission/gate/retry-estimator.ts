const DEFAULT_HOLD_MS = 1_000;
const MIN_RETRY_MS = 50;
const MAX_RETRY_MS = 60_000;
/** Holds averaged: the first ones all count, then the average moves with each new sample. */
const WINDOW = 32;
/**
 * Past the first window, one release in this many is timed: a clock read costs about a sixth of
 * an uncontended acquire + release.
 */
const SAMPLE_EVERY = 8;

/**
 * Estimates when a refused request has a fair chance to succeed, from a moving average of how
 * long slots are held: with `held` slots each lasting about `hold`, one frees about every
 * `hold / held` on average. Releases are sampled (`wantsSample`), so most of them cost no clock
 * read for it.
 */
export class RetryEstimator {
  #meanHoldMs = DEFAULT_HOLD_MS;
  #samples = 0;
  #skipped = 0;

  /** Whether this release's hold time should be recorded: every one at first, then a sample. */
  wantsSample(): boolean {
    if (this.#samples < WINDOW || ++this.#skipped === SAMPLE_EVERY) {
      this.#skipped = 0;
      return true;
    }
    return false;
  }

  recordHold(ms: number): void {
    // Exponential moving average that starts as a plain mean for the first samples.
    this.#samples = Math.min(this.#samples + 1, WINDOW);
    this.#meanHoldMs += (ms - this.#meanHoldMs) / this.#samples;
  }

  /** `ahead` requests must be served before this one, from `slots` slots. */
  retryAfterMs(ahead: number, slots: number): number {
    const perSlotRelease = this.#meanHoldMs / Math.max(1, slots);
    const estimate = perSlotRelease * Math.max(1, ahead);
    return Math.round(Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, estimate)));
  }
}

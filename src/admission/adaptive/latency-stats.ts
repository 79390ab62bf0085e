/**
 * Mean and spread of latency samples (Welford's running variance), to tell a real rise from
 * jitter: a mean of `n` samples moves by about `spread / √n` on noise alone.
 */
export class LatencyStats {
  #count = 0;
  #mean = 0;
  #squares = 0;

  get count(): number {
    return this.#count;
  }

  get mean(): number {
    return this.#mean;
  }

  /** Standard deviation of one sample. */
  get spread(): number {
    return this.#count < 2 ? 0 : Math.sqrt(this.#squares / (this.#count - 1));
  }

  add(latencyMs: number): void {
    this.#count++;
    const delta = latencyMs - this.#mean;
    this.#mean += delta / this.#count;
    this.#squares += delta * (latencyMs - this.#mean);
  }

  /**
   * True when `other` (another level's samples) is slower than this by more than noise
   * explains (`sigmas` standard errors of the difference) and by at least `minRise` of the
   * mean; never while this holds no samples.
   */
  risesTo(
    other: { readonly mean: number; readonly count: number },
    sigmas: number,
    minRise: number,
  ): boolean {
    if (this.#count === 0) return false;
    const noise = sigmas * this.spread * Math.sqrt(1 / this.#count + 1 / Math.max(1, other.count));
    return other.mean > this.#mean + Math.max(noise, minRise * this.#mean);
  }
}

/** Sums of the setups that started with one in-flight count. */
interface Level {
  readonly inflight: number;
  count: number;
  sum: number;
}

/** The knee a profile found: where latency starts to rise, and by how much at the top. */
export interface Knee {
  /** The highest in-flight count still as fast as the flat part. */
  readonly inflight: number;
  /** Latency of the flat part. */
  readonly flatMs: number;
  /** Rise over `flatMs` at the highest in-flight count seen, as a share of it. */
  readonly rise: number;
}

/**
 * Setup latency by the in-flight count each setup started with. Every sample is its own
 * measurement of one level, so setups that come back a round trip after the limit moved
 * still say what that level costs. `knee()` fits a hinge to them: flat up to a count, then
 * rising in a straight line; the count where the fit bends is where contention begins.
 * Held per level, so it grows with the number of levels seen, not with the samples.
 */
export class LatencyProfile {
  readonly #levels = new Map<number, Level>();
  #squares = 0;

  add(inflight: number, latencyMs: number): void {
    let level = this.#levels.get(inflight);
    if (level === undefined) {
      level = { inflight, count: 0, sum: 0 };
      this.#levels.set(inflight, level);
    }
    level.count++;
    level.sum += latencyMs;
    this.#squares += latencyMs * latencyMs;
  }

  /**
   * The least-squares hinge over every level, or undefined while fewer than two levels were
   * seen or latency does not rise past the flat part.
   */
  knee(): Knee | undefined {
    const levels = [...this.#levels.values()].sort((a, b) => a.inflight - b.inflight);
    const top = levels.at(-1);
    if (levels.length < 2 || top === undefined) return undefined;
    let count = 0;
    let sum = 0;
    for (const level of levels) {
      count += level.count;
      sum += level.sum;
    }
    // Sums over the levels above a candidate bend, built from the top down, make each
    // candidate's fit O(1): with x = n - k above the bend, Σx, Σx², Σxy follow from them.
    const above = { count: 0, n: 0, nn: 0, y: 0, ny: 0 };
    let best: { error: number; knee: Knee } | undefined;
    for (let i = levels.length - 1; i >= 1; i--) {
      const level = levels[i] as Level;
      above.count += level.count;
      above.n += level.count * level.inflight;
      above.nn += level.count * level.inflight * level.inflight;
      above.y += level.sum;
      above.ny += level.inflight * level.sum;
      const bend = (levels[i - 1] as Level).inflight;
      const sx = above.n - bend * above.count;
      const sxx = above.nn - 2 * bend * above.n + bend * bend * above.count;
      const sxy = above.ny - bend * above.y;
      const varX = sxx - (sx * sx) / count;
      if (varX <= 0) continue;
      const slope = Math.max(0, (sxy - (sx * sum) / count) / varX);
      const flat = (sum - slope * sx) / count;
      const error =
        this.#squares -
        2 * flat * sum -
        2 * slope * sxy +
        count * flat * flat +
        2 * flat * slope * sx +
        slope * slope * sxx;
      if (best !== undefined && error >= best.error) continue;
      const rise = flat > 0 ? (slope * (top.inflight - bend)) / flat : 0;
      best = { error, knee: { inflight: bend, flatMs: flat, rise } };
    }
    return best !== undefined && best.knee.rise > 0 ? best.knee : undefined;
  }
}

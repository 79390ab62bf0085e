import type { LimitSample } from './algorithm.js';
import { LatencyProfile } from './latency-profile.js';
import { LatencyStats } from './latency-stats.js';

/** Setups in the short window judged against the slow start's baseline. */
const WINDOW = 8;
/** Samples needed before a rise can be told from jitter. */
const MIN_BASELINE = 16;
/** Standard errors a rise must exceed: checked on every sample, so false alarms must be rare. */
const SIGMAS = 3;
/**
 * Slow start's exit, after HyStart in TCP: overload shows in latency before it shows in
 * failures, so slow start ends at the first clear rise of setup latency over the baseline of
 * the setups before it (the mean of the last few setups past `rise` of the baseline, the
 * share the limit's owner calls overload, and past what the jitter seen so far explains), or at
 * the first failure. It answers with the in-flight count that was still fast: the lower of
 * where latency bent upwards by the in-flight count each setup started with (`LatencyProfile`)
 * and Little's law on the setups that rose (as many as would have been as fast as the
 * baseline), or one below a failed setup's. The limit drops there at once instead of cutting
 * from the overshoot a step at a time. The setups the overshoot started come back a round trip
 * later, each measuring a count past the knee; once they are all back, `settle` fits the knee
 * again on every setup since the start, the overshoot's included, and keeps it below any count
 * a setup failed with. Few setups past the knee at the exit can place it low; the overshoot's
 * cannot lower it again (they ran under a limit no longer in force).
 */
export class SlowStart {
  readonly #baseline = new LatencyStats();
  readonly #latencies: number[] = [];
  readonly #inflights: number[] = [];
  #profile: LatencyProfile | undefined = new LatencyProfile();
  #active = true;
  /** The lowest in-flight count a setup failed with: overloaded, whatever latency says. */
  #failedAt = Number.POSITIVE_INFINITY;

  /** Latency of the setups before the rise: the backend without contention. */
  get baseline(): LatencyStats {
    return this.#baseline;
  }

  get active(): boolean {
    return this.#active;
  }

  /**
   * Feeds one sample while slow start lasts; returns undefined to keep doubling, or the knee
   * (the in-flight count that was still fast) once setups fail or slow down, ending it.
   */
  observe(sample: LimitSample, estimate: number, rise: number): number | undefined {
    if (sample.failed) {
      this.#failedAt = sample.inflight;
      return this.#exit(Math.min(estimate, sample.inflight - 1));
    }
    this.#profile?.add(sample.inflight, sample.latencyMs);
    this.#latencies.push(sample.latencyMs);
    this.#inflights.push(sample.inflight);
    if (this.#latencies.length > WINDOW) {
      this.#baseline.add(this.#latencies.shift() as number);
      this.#inflights.shift();
    }
    if (this.#baseline.count < MIN_BASELINE || this.#latencies.length < WINDOW) return undefined;
    const recent = { mean: mean(this.#latencies), count: WINDOW };
    if (!this.#baseline.risesTo(recent, SIGMAS, rise)) return undefined;
    // Little's law: the recent setups would have been as fast as the baseline with this many.
    // Either estimate can run high on its own (few setups past the knee yet), so the lower.
    const little = (mean(this.#inflights) * this.#baseline.mean) / recent.mean;
    return this.#exit(Math.min(little, this.#profile?.knee()?.inflight ?? little));
  }

  /**
   * Feeds a setup that slow start's overshoot started, after the exit: it measures a level
   * past the knee. Returns the knee all setups since the start show once `last` is true (below
   * any count a setup failed with), undefined if latency did not rise by `rise` past the flat
   * part, and then forgets them.
   */
  settle(sample: LimitSample, last: boolean, rise: number): number | undefined {
    const profile = this.#profile;
    if (sample.failed) this.#failedAt = Math.min(this.#failedAt, sample.inflight);
    else profile?.add(sample.inflight, sample.latencyMs);
    if (!last || profile === undefined) return undefined;
    this.#profile = undefined;
    const knee = profile.knee();
    // Where latency first rises a little inside the jitter, the fit bends late: never at or
    // past a count that failed.
    return knee !== undefined && knee.rise > rise
      ? Math.min(knee.inflight, this.#failedAt - 1)
      : undefined;
  }

  #exit(knee: number): number {
    this.#active = false;
    return knee;
  }
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

import { knownKeys, numberField, objectOrUndefined } from '../../internal/validate.js';
import type { LimitAlgorithm, LimitSample } from './algorithm.js';
import { LatencyFilter } from './latency-filter.js';

export interface GradientOptions {
  /** How far short-term latency may rise over the baseline before shrinking. Default 1.2. */
  readonly tolerance?: number | undefined;
  /** Setups in the short-term latency average. Default 4. */
  readonly shortWindow?: number | undefined;
  /** Setups over which the baseline may drift up by a factor e. Default 2000. */
  readonly baselineWindow?: number | undefined;
  /** Headroom added per round trip while latency holds; default √estimate. */
  readonly queueSize?: number | undefined;
}

/**
 * The gradient idea of Netflix concurrency-limits' Gradient2Limit, on setup latency: the
 * ratio of baseline to short-term latency (times `tolerance`, capped at 1, floored at 0.5)
 * scales the limit, plus headroom while latency holds. Steps are taken per round trip (each
 * sample moves the estimate 1/estimate of the way), since setups arrive about `estimate` per
 * round trip; per-sample steps overshoot badly when many setups finish at once. A failed
 * setup counts as the steepest rise.
 */
export class GradientAlgorithm implements LimitAlgorithm {
  readonly name = 'gradient';
  readonly #tolerance: number;
  readonly #queueSize: number | undefined;
  readonly #latency: LatencyFilter;
  #slowStart = true;

  constructor(options: GradientOptions = {}) {
    const value = objectOrUndefined('gradient', options) ?? {};
    knownKeys('gradient', value, ['tolerance', 'shortWindow', 'baselineWindow', 'queueSize']);
    this.#tolerance = numberField('gradient.tolerance', value.tolerance, { min: 1 }, 1.2);
    this.#queueSize = numberField('gradient.queueSize', value.queueSize, { min: 0 });
    this.#latency = new LatencyFilter(
      numberField('gradient.shortWindow', value.shortWindow, { min: 1 }, 4),
      numberField('gradient.baselineWindow', value.baselineWindow, { min: 1 }, 2_000),
    );
  }

  update(estimate: number, sample: LimitSample): number {
    if (!sample.failed) this.#latency.add(sample.latencyMs);
    const { short, baseline } = this.#latency;
    const gradient = sample.failed
      ? 0.5
      : Math.max(0.5, Math.min(1, (this.#tolerance * baseline) / short));
    if (gradient < 1) this.#slowStart = false;
    if (gradient === 1 && sample.inflight * 2 < estimate) return estimate;
    // Until the first sign of overload, double every round trip (slow start, as in TCP).
    if (this.#slowStart) return estimate + 1;
    // Headroom only while latency holds, so an overload can take the limit all the way down.
    const queueSize = gradient < 1 ? 0 : (this.#queueSize ?? Math.sqrt(estimate));
    const target = estimate * gradient + queueSize;
    return estimate + (target - estimate) / Math.max(1, estimate);
  }
}

import { knownKeys, numberField, objectOrUndefined } from '../../internal/validate.js';
import type { LimitAlgorithm, LimitSample } from './algorithm.js';

export interface GradientOptions {
  /** How far the short-term latency may rise over the long-term one before shrinking. Default 1.2. */
  readonly tolerance?: number;
  /** Share of each new estimate taken per sample, 0..1. Default 0.2. */
  readonly smoothing?: number;
  /** Samples in the long-term average. Default 100. */
  readonly longWindow?: number;
  /** Headroom added on top of the gradient-scaled estimate; default √estimate. */
  readonly queueSize?: number;
}

/**
 * The gradient algorithm of Netflix concurrency-limits' Gradient2Limit, on setup latency:
 * compares the latest latency with a long-term moving average; while they agree the limit
 * grows by the headroom, when the latest rises past `tolerance` times the average the limit
 * shrinks in proportion (at most by half per sample, before smoothing). A failed setup counts
 * as the steepest rise. Defaults are tuned for session setup, where a burst turns a 100 ms
 * setup into seconds.
 */
export class GradientAlgorithm implements LimitAlgorithm {
  readonly name = 'gradient';
  readonly #tolerance: number;
  readonly #smoothing: number;
  readonly #longWindow: number;
  readonly #queueSize: number | undefined;
  #longMs = 0;
  #samples = 0;

  constructor(options: GradientOptions = {}) {
    const value = objectOrUndefined('gradient', options) ?? {};
    knownKeys('gradient', value, ['tolerance', 'smoothing', 'longWindow', 'queueSize']);
    this.#tolerance = numberField('gradient.tolerance', value.tolerance, { min: 1 }, 1.2);
    this.#smoothing = numberField(
      'gradient.smoothing',
      value.smoothing,
      { min: 0.001, max: 1 },
      0.2,
    );
    this.#longWindow = numberField(
      'gradient.longWindow',
      value.longWindow,
      { min: 1, integer: true },
      100,
    );
    this.#queueSize = numberField('gradient.queueSize', value.queueSize, { min: 0 });
  }

  update(estimate: number, sample: LimitSample): number {
    const shortMs = Math.max(sample.latencyMs, 1e-3);
    // The long-term average starts as a plain mean (warm-up), then moves exponentially.
    this.#samples = Math.min(this.#samples + 1, this.#longWindow);
    if (!sample.failed) this.#longMs += (shortMs - this.#longMs) / this.#samples;
    const longMs = this.#longMs;
    // After a long overload the average stays high; pull it down faster once latency recovers.
    if (longMs / shortMs > 2) this.#longMs *= 0.95;

    const gradient = sample.failed
      ? 0.5
      : Math.max(0.5, Math.min(1, (this.#tolerance * longMs) / shortMs));
    // Growing proves nothing when under half the limit is in use.
    if (gradient === 1 && sample.inflight < estimate / 2) return estimate;
    // Headroom only while latency holds: Gradient2 adds it always, which keeps the limit from
    // ever shrinking below a few times the headroom, however bad the overload.
    const queueSize = gradient < 1 ? 0 : (this.#queueSize ?? Math.sqrt(estimate));
    const next = estimate * gradient + queueSize;
    return estimate * (1 - this.#smoothing) + next * this.#smoothing;
  }
}

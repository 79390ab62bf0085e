import { knownKeys, numberField, objectOrUndefined } from '../../internal/validate.js';
import type { LimitAlgorithm, LimitSample } from './algorithm.js';

export interface AimdOptions {
  /** Added per sample when the setup was fast and the limit was in use. Default 1. */
  readonly increase?: number;
  /** Multiplier on a slow or failed setup. Default 0.9. */
  readonly backoff?: number;
  /**
   * A setup slower than this many times the fastest seen recently counts as overload, so the
   * threshold calibrates itself instead of being told the capacity. Default 2.
   */
  readonly latencyFactor?: number;
  /** Fixed latency threshold instead of `latencyFactor`. */
  readonly latencyThresholdMs?: number;
}

/**
 * Additive increase, multiplicative decrease (as in Netflix concurrency-limits' AIMDLimit):
 * grow by `increase` while setups are fast and the limit is actually used; shrink by `backoff`
 * on a failure or a setup slower than the threshold.
 */
export class AimdAlgorithm implements LimitAlgorithm {
  readonly name = 'aimd';
  readonly #increase: number;
  readonly #backoff: number;
  readonly #latencyFactor: number;
  readonly #thresholdMs: number | undefined;
  /** Fastest recent latency; drifts up slowly so a one-off fast sample does not pin it. */
  #baselineMs = Number.POSITIVE_INFINITY;

  constructor(options: AimdOptions = {}) {
    const value = objectOrUndefined('aimd', options) ?? {};
    knownKeys('aimd', value, ['increase', 'backoff', 'latencyFactor', 'latencyThresholdMs']);
    this.#increase = numberField('aimd.increase', value.increase, { min: 0.001 }, 1);
    this.#backoff = numberField('aimd.backoff', value.backoff, { min: 0.01, max: 0.999 }, 0.9);
    this.#latencyFactor = numberField('aimd.latencyFactor', value.latencyFactor, { min: 1 }, 2);
    this.#thresholdMs = numberField('aimd.latencyThresholdMs', value.latencyThresholdMs, {
      min: 0,
    });
  }

  update(estimate: number, sample: LimitSample): number {
    if (!sample.failed) {
      this.#baselineMs = Math.min(sample.latencyMs, this.#baselineMs * 1.01);
    }
    const threshold = this.#thresholdMs ?? this.#baselineMs * this.#latencyFactor;
    if (sample.failed || sample.latencyMs > threshold) return estimate * this.#backoff;
    // Grow only when the limit is what constrains us (app-limited traffic proves nothing).
    if (sample.inflight * 2 >= estimate) return estimate + this.#increase;
    return estimate;
  }
}

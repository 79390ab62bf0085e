import { knownKeys, numberField, objectOrUndefined } from '../../internal/validate.js';
import type { LimitAlgorithm, LimitSample } from './algorithm.js';
import { LatencyFilter } from './latency-filter.js';

export interface AimdOptions {
  /** Added per round trip while setups are fast and the limit is in use. Default 1. */
  readonly increase?: number;
  /** Multiplier on a failed setup or a slow one. Default 0.9. */
  readonly backoff?: number;
  /**
   * Setups slower (on a short average) than this many times the uncontended baseline count as
   * overload, so the threshold calibrates itself instead of being told the capacity. Default 1.3.
   */
  readonly latencyFactor?: number;
  /** Fixed latency threshold instead of `latencyFactor`. */
  readonly latencyThresholdMs?: number;
}

/** Share of the additive step taken below the last ceiling, so probes there are rare. */
const CEILING_APPROACH = 0.25;

/**
 * Additive increase, multiplicative decrease, as TCP does it: until the first sign of overload
 * the limit doubles every round trip (slow start), then it grows by `increase` per round trip;
 * a failed setup or a slow short-term latency multiplies it by `backoff`. The limit at the
 * last decrease is remembered as a ceiling and approached at a quarter of the additive step:
 * every probe past the capacity fails setups, so below the place where overload was last seen
 * the limit probes rarely; past it (the backend may have grown) it climbs at full speed.
 */
export class AimdAlgorithm implements LimitAlgorithm {
  readonly name = 'aimd';
  readonly #increase: number;
  readonly #backoff: number;
  readonly #latencyFactor: number;
  readonly #thresholdMs: number | undefined;
  readonly #latency = new LatencyFilter(4, 2_000);
  #slowStart = true;
  /** The limit at the last decrease: overload was seen there, so it is approached slowly. */
  #ceiling = Number.POSITIVE_INFINITY;

  constructor(options: AimdOptions = {}) {
    const value = objectOrUndefined('aimd', options) ?? {};
    knownKeys('aimd', value, ['increase', 'backoff', 'latencyFactor', 'latencyThresholdMs']);
    this.#increase = numberField('aimd.increase', value.increase, { min: 0.001 }, 1);
    this.#backoff = numberField('aimd.backoff', value.backoff, { min: 0.01, max: 0.999 }, 0.9);
    this.#latencyFactor = numberField('aimd.latencyFactor', value.latencyFactor, { min: 1 }, 1.3);
    this.#thresholdMs = numberField('aimd.latencyThresholdMs', value.latencyThresholdMs, {
      min: 0,
    });
  }

  /** True until the first failed or slow setup. */
  get slowStart(): boolean {
    return this.#slowStart;
  }

  update(estimate: number, sample: LimitSample): number {
    if (!sample.failed) this.#latency.add(sample.latencyMs);
    const threshold = this.#thresholdMs ?? this.#latency.baseline * this.#latencyFactor;
    if (sample.failed || this.#latency.short > threshold) {
      this.#slowStart = false;
      this.#ceiling = estimate;
      return estimate * this.#backoff;
    }
    // Growing proves nothing when under half the limit is in use.
    if (sample.inflight * 2 < estimate) return estimate;
    // About `estimate` samples arrive per round trip.
    if (this.#slowStart) return estimate + 1;
    const step = estimate < this.#ceiling ? this.#increase * CEILING_APPROACH : this.#increase;
    return estimate + step / estimate;
  }
}

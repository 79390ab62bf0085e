import { ConfigError } from '../../iface/errors.js';
import { callerValue, callListener } from '../../internal/emitter.js';
import {
  describeValue,
  knownKeys,
  numberField,
  objectOrUndefined,
} from '../../internal/validate.js';
import { AimdAlgorithm, type AimdOptions } from './aimd.js';
import type { LimitAlgorithm, LimitSample } from './algorithm.js';
import { GradientAlgorithm, type GradientOptions } from './gradient.js';
import { latencyField, SloController, type SloOptions } from './slo-limit.js';

export interface AdaptiveLimitOptions {
  /** Never below this. */
  readonly min: number;
  /** Never above this (and never above the hard cap it is used under). */
  readonly max: number;
  /** Where it starts. Default: `min`. */
  readonly initial?: number | undefined;
  /** `'gradient'` (default), `'aimd'`, options for either, or a custom algorithm. */
  readonly algorithm?:
    | 'gradient'
    | 'aimd'
    | { readonly gradient: GradientOptions }
    | { readonly aimd: AimdOptions }
    | LimitAlgorithm
    | undefined;
  /**
   * Steer the limit by a latency objective on live calls instead of setup latency: samples
   * come from `admission.observeLatency()` or a signal feeding `observeQuantile()`. Not with
   * `algorithm`.
   */
  readonly slo?: SloOptions | undefined;
}

/**
 * A limit that adapts to measured setup latency and failures, within `[min, max]`. Give it to
 * `Admission` as `limit` (sessions) or as `setup.concurrency` (concurrent setups); one
 * instance serves one admission.
 */
export class AdaptiveLimit {
  readonly min: number;
  readonly max: number;
  readonly algorithm: LimitAlgorithm;
  /** The latency objective steering this limit, when it has one. */
  readonly slo: SloController | undefined;
  #estimate: number;
  #current: number;
  /** The hard cap this limit is used under (see `capAt`). */
  #ceiling = Number.POSITIVE_INFINITY;
  #owner: object | undefined;
  readonly #listeners: ((limit: number) => void)[] = [];

  constructor(options: AdaptiveLimitOptions) {
    const value = objectOrUndefined('adaptive', options);
    if (value === undefined)
      throw new ConfigError('adaptive', 'options are required ({ min, max })');
    knownKeys('adaptive', value, ['min', 'max', 'initial', 'algorithm', 'slo']);
    if (value.min === undefined) throw new ConfigError('adaptive.min', 'is required');
    if (value.max === undefined) throw new ConfigError('adaptive.max', 'is required');
    this.min = numberField('adaptive.min', value.min, { min: 1, integer: true }, 1);
    this.max = numberField('adaptive.max', value.max, { min: this.min, integer: true }, this.min);
    this.#estimate = numberField(
      'adaptive.initial',
      value.initial,
      { min: this.min, max: this.max },
      this.min,
    );
    this.algorithm = resolveAlgorithm(value.algorithm);
    if (value.slo !== undefined && value.algorithm !== undefined)
      throw new ConfigError('adaptive.algorithm', 'must not be given with adaptive.slo');
    this.slo =
      value.slo === undefined
        ? undefined
        : new SloController(value.slo, { min: this.min, max: this.max, initial: this.#estimate });
    if (this.slo !== undefined) this.#estimate = this.slo.fallback;
    this.#current = Math.floor(this.#estimate);
  }

  /** The limit in force now. */
  get current(): number {
    return this.#current;
  }

  /** Feeds one finished setup; returns true when the limit changed. */
  record(sample: LimitSample): boolean {
    // A latency objective steers this limit; setups say nothing about it.
    if (this.slo !== undefined) return false;
    // An algorithm of the caller's that throws would unwind through the setup that fed it
    // (leaving its caller waiting for good): it is warned of, and the estimate stands.
    const next =
      callerValue(() =>
        this.algorithm.update(this.#estimate, {
          ...sample,
          latencyMs: measurableLatency(sample.latencyMs),
        }),
      ) ?? this.#estimate;
    // Only a setup that ran under the present limit may lower it (see LimitSample.inflight).
    if (next < this.#estimate && sample.inflight > this.#estimate) return false;
    return this.#apply(next);
  }

  /** One response-latency sample of a live call, for a limit with `slo`; ignored otherwise. */
  observeLatency(latencyMs: number): void {
    this.slo?.observe(latencyField('latencyMs', latencyMs), performance.now());
  }

  /** The objective's quantile computed elsewhere (a Prometheus query), for a limit with `slo`. */
  observeQuantile(quantileMs: number): void {
    this.slo?.observeQuantile(latencyField('quantileMs', quantileMs), performance.now());
  }

  /** @internal Starts steering by the objective; `inUse` counts the calls this limit admitted. */
  startObjective(inUse: () => number): void {
    const slo = this.slo;
    slo?.start(() => this.#apply(slo.next(this.#estimate, inUse(), performance.now())));
  }

  /** @internal Stops the objective's timer (the admission drained). */
  stopObjective(): void {
    this.slo?.stop();
  }

  #apply(proposed: number): boolean {
    const next = Number.isFinite(proposed) ? proposed : this.#estimate;
    this.#estimate = this.#bounded(next);
    const current = Math.floor(this.#estimate);
    if (current === this.#current) return false;
    this.#current = current;
    for (const listener of this.#listeners) callListener(listener, current);
    return true;
  }

  /** `estimate` within `[min, max]` and not above the hard cap (unless that is under `min`). */
  #bounded(estimate: number): number {
    return Math.max(this.min, Math.min(this.max, this.#ceiling, estimate));
  }

  /**
   * @internal The hard cap this limit is used under, whenever it is set. The estimate is held
   * under it, so each step is taken from the limit in force, and raising the cap lets the
   * limit climb from there rather than jump to wherever it drifted meanwhile. Tells no
   * listener: the limit in force was the hard cap already.
   */
  capAt(ceiling: number): void {
    this.#ceiling = ceiling;
    this.#estimate = this.#bounded(this.#estimate);
    this.#current = Math.floor(this.#estimate);
  }

  /** Calls `listener` with the new limit whenever it changes. */
  onChange(listener: (limit: number) => void): void {
    this.#listeners.push(listener);
  }

  /** @internal Refuses an `owner` other than the one `claim` bound this limit to. */
  checkClaimable(owner: object, field: string): void {
    if (this.#owner !== undefined && this.#owner !== owner) {
      throw new ConfigError(
        field,
        'this adaptive limit already drives another admission; create one per use',
      );
    }
  }

  /** @internal Binds the limit to its one user: its state describes one backend's capacity. */
  claim(owner: object, field: string): void {
    this.checkClaimable(owner, field);
    this.#owner = owner;
  }
}

/** An adaptive limit, for `limit` or `setup.concurrency` in `Admission` options. */
export function adaptive(options: AdaptiveLimitOptions): AdaptiveLimit {
  return new AdaptiveLimit(options);
}

/**
 * Setup latencies under this many ms read as this: below it the ratios the algorithms compare
 * are timer and scheduling noise (0.05 ms after 0 ms is no fiftyfold rise), not contention.
 */
const LATENCY_RESOLUTION_MS = 1;

/** Never under the resolution; NaN (a custom caller's) reads as the resolution too. */
function measurableLatency(latencyMs: number): number {
  return Number.isNaN(latencyMs)
    ? LATENCY_RESOLUTION_MS
    : Math.max(latencyMs, LATENCY_RESOLUTION_MS);
}

function resolveAlgorithm(raw: unknown): LimitAlgorithm {
  if (raw === undefined || raw === 'gradient') return new GradientAlgorithm();
  if (raw === 'aimd') return new AimdAlgorithm();
  if (raw !== null && typeof raw === 'object') {
    const value = raw as Record<string, unknown>;
    if (typeof value.update === 'function' && typeof value.name === 'string')
      return raw as LimitAlgorithm;
    const keys = Object.keys(value);
    if (keys.length > 1)
      throw new ConfigError(
        'adaptive.algorithm',
        `must name one algorithm, got ${keys.join(', ')}`,
      );
    if ('gradient' in value) return new GradientAlgorithm(value.gradient as GradientOptions);
    if ('aimd' in value) return new AimdAlgorithm(value.aimd as AimdOptions);
  }
  throw new ConfigError(
    'adaptive.algorithm',
    `must be 'gradient', 'aimd', { gradient: {...} }, { aimd: {...} } or a LimitAlgorithm, got ${describeValue(raw)}`,
  );
}

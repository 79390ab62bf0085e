import { ConfigError } from '../../iface/errors.js';
import {
  describeValue,
  knownKeys,
  numberField,
  objectOrUndefined,
} from '../../internal/validate.js';
import { AimdAlgorithm, type AimdOptions } from './aimd.js';
import type { LimitAlgorithm, LimitSample } from './algorithm.js';
import { GradientAlgorithm, type GradientOptions } from './gradient.js';

export interface AdaptiveLimitOptions {
  /** Never below this. */
  readonly min: number;
  /** Never above this (and never above the hard cap it is used under). */
  readonly max: number;
  /** Where it starts. Default: `min`. */
  readonly initial?: number;
  /** `'gradient'` (default), `'aimd'`, options for either, or a custom algorithm. */
  readonly algorithm?:
    | 'gradient'
    | 'aimd'
    | { readonly gradient: GradientOptions }
    | { readonly aimd: AimdOptions }
    | LimitAlgorithm;
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
  #estimate: number;
  #current: number;
  #owner: object | undefined;
  readonly #listeners: ((limit: number) => void)[] = [];

  constructor(options: AdaptiveLimitOptions) {
    const value = objectOrUndefined('adaptive', options);
    if (value === undefined)
      throw new ConfigError('adaptive', 'options are required ({ min, max })');
    knownKeys('adaptive', value, ['min', 'max', 'initial', 'algorithm']);
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
    this.#current = Math.floor(this.#estimate);
    this.algorithm = resolveAlgorithm(value.algorithm);
  }

  /** The limit in force now. */
  get current(): number {
    return this.#current;
  }

  /** Feeds one finished setup; returns true when the limit changed. */
  record(sample: LimitSample): boolean {
    const next = this.algorithm.update(this.#estimate, sample);
    this.#estimate = Math.min(
      this.max,
      Math.max(this.min, Number.isFinite(next) ? next : this.#estimate),
    );
    const current = Math.floor(this.#estimate);
    if (current === this.#current) return false;
    this.#current = current;
    for (const listener of this.#listeners) listener(current);
    return true;
  }

  /** Calls `listener` with the new limit whenever it changes. */
  onChange(listener: (limit: number) => void): void {
    this.#listeners.push(listener);
  }

  /** @internal Binds the limit to its one user: its state describes one backend's capacity. */
  claim(owner: object, field: string): void {
    if (this.#owner !== undefined && this.#owner !== owner) {
      throw new ConfigError(
        field,
        'this adaptive limit already drives another admission; create one per use',
      );
    }
    this.#owner = owner;
  }
}

/** An adaptive limit, for `limit` or `setup.concurrency` in `Admission` options. */
export function adaptive(options: AdaptiveLimitOptions): AdaptiveLimit {
  return new AdaptiveLimit(options);
}

function resolveAlgorithm(raw: unknown): LimitAlgorithm {
  if (raw === undefined || raw === 'gradient') return new GradientAlgorithm();
  if (raw === 'aimd') return new AimdAlgorithm();
  if (raw !== null && typeof raw === 'object') {
    const value = raw as Record<string, unknown>;
    if (typeof value.update === 'function' && typeof value.name === 'string')
      return raw as LimitAlgorithm;
    if ('gradient' in value) return new GradientAlgorithm(value.gradient as GradientOptions);
    if ('aimd' in value) return new AimdAlgorithm(value.aimd as AimdOptions);
  }
  throw new ConfigError(
    'adaptive.algorithm',
    `must be 'gradient', 'aimd', { gradient: {...} }, { aimd: {...} } or a LimitAlgorithm, got ${describeValue(raw)}`,
  );
}

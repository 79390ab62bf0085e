import { ConfigError } from '../../iface/errors.js';
import { callListener } from '../../internal/emitter.js';
import {
  describeValue,
  durationField,
  knownKeys,
  numberField,
  objectOrUndefined,
} from '../../internal/validate.js';
import { LatencyWindow } from './latency-window.js';

/**
 * The longest response latency taken as a sample, in ms (one hour): longer is no turn of a
 * live call but a broken measurement. The gateway takes samples under the same bound.
 */
export const MAX_LATENCY_MS = 3_600_000;

/** `value` if it is a latency (ms from 0 to `MAX_LATENCY_MS`), else a ConfigError naming `field`. */
export function latencyField(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= MAX_LATENCY_MS))
    throw new ConfigError(
      field,
      `must be a number from 0 to ${MAX_LATENCY_MS} (one hour), got ${describeValue(value)}`,
    );
  return value;
}

/** A latency objective that drives an adaptive limit: see docs/guide.md, "Latency SLO". */
export interface SloOptions {
  /** Which quantile of response latency the objective is on, 0 < q < 1. Default 0.95. */
  readonly quantile?: number | undefined;
  /** The quantile must stay at or under this, in ms. */
  readonly targetMs: number;
  /** Samples older than this do not count. Default 30 000 ms. */
  readonly windowMs?: number | undefined;
  /** How often the limit is reconsidered. Default `windowMs / 6`. */
  readonly intervalMs?: number | undefined;
  /** Samples needed (since the last change) before a decision. Default 20. */
  readonly minSamples?: number | undefined;
  /** No sample for this long means the signal is missing. Default `windowMs`. */
  readonly staleMs?: number | undefined;
  /** The limit while the signal is missing. Default: the adaptive limit's `initial`. */
  readonly fallback?: number | undefined;
  /**
   * The limit grows only while the quantile is under `targetMs × (1 − headroom)`; between
   * that and the target it holds, so it does not probe across the objective: the margin
   * that keeps short windows' quantiles under the target despite noise. Default 0.2.
   */
  readonly headroom?: number | undefined;
}

/** How the latency signal stands, reported by the `latency_signal` event. */
export interface LatencySignalState {
  /**
   * `live`: fresh samples steer the limit (from the first sample on; the limit follows at the
   * next interval); `missing`: none lately (or none yet), the limit is the fallback.
   */
  readonly state: 'live' | 'missing';
  /** The window's quantile when last computed, ms. */
  readonly quantileMs: number | undefined;
  /** The limit used while the signal is missing. */
  readonly fallback: number;
}

/** The SLO controller's view, in `stats().slo`. */
export interface SloStats extends LatencySignalState {
  readonly quantile: number;
  readonly targetMs: number;
  /** Samples in the window now (since the last change of the limit). */
  readonly samples: number;
}

interface Bounds {
  readonly min: number;
  readonly max: number;
  readonly initial: number;
}

/** Shrinking takes at most this factor per step, as Gradient2 bounds its gradient. */
const MIN_GRADIENT = 0.5;
/** Share of the proportional growth taken per step (smoothing, as Gradient2's). */
const GROWTH_SMOOTHING = 0.5;

/**
 * The control law of an SLO-driven limit. Every `intervalMs`, with at least `minSamples`
 * samples since the limit last changed:
 *
 * - quantile over target: the limit is multiplied by `target / quantile` (at least 0.5):
 *   Gradient2's gradient, with the objective in place of the no-load latency;
 * - quantile under `target × (1 − headroom)`: the limit grows by `limit × (that / quantile
 *   − 1) / 2`, at least 1 and at most √limit (Gradient2's queue-size headroom), and only
 *   when the limit is in use (growing an idle limit proves nothing);
 * - in between it holds, as TCP Vegas holds between its alpha and beta.
 *
 * After any change the window restarts, since older samples describe a load that the new
 * limit no longer allows; after a decrease it also waits until the calls in progress are
 * down to the limit (no call is ended for it), so one overload lowers the limit once, not
 * once per interval while the calls it admitted are still running.
 */
export class SloController {
  readonly quantile: number;
  readonly targetMs: number;
  readonly windowMs: number;
  readonly intervalMs: number;
  readonly minSamples: number;
  readonly staleMs: number;
  readonly fallback: number;
  readonly headroom: number;
  readonly #window: LatencyWindow;
  readonly #listeners: ((state: LatencySignalState) => void)[] = [];
  #lastSampleAt = Number.NEGATIVE_INFINITY;
  #external: { ms: number; at: number } | undefined;
  /** External quantiles older than this still cover samples from before the last change. */
  #externalValidFrom = Number.NEGATIVE_INFINITY;
  #settling = false;
  #state: LatencySignalState['state'] | undefined;
  #quantileMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** How long the last tick ran behind its time (see `start`). */
  #stalledMs = 0;

  constructor(raw: unknown, bounds: Bounds) {
    const value = objectOrUndefined('adaptive.slo', raw);
    if (value === undefined)
      throw new ConfigError('adaptive.slo', `must be an object, got ${describeValue(raw)}`);
    knownKeys('adaptive.slo', value, [
      'quantile',
      'targetMs',
      'windowMs',
      'intervalMs',
      'minSamples',
      'staleMs',
      'fallback',
      'headroom',
    ]);
    if (value.targetMs === undefined) throw new ConfigError('adaptive.slo.targetMs', 'is required');
    this.quantile = numberField(
      'adaptive.slo.quantile',
      value.quantile,
      { min: 0.01, max: 0.999 },
      0.95,
    );
    this.targetMs = numberField('adaptive.slo.targetMs', value.targetMs, { min: 0.001 }, 1);
    this.windowMs = durationField('adaptive.slo.windowMs', value.windowMs, { min: 1 }, 30_000);
    this.intervalMs = durationField(
      'adaptive.slo.intervalMs',
      value.intervalMs,
      { min: 1, max: this.windowMs },
      Math.max(1, this.windowMs / 6),
    );
    this.minSamples = numberField(
      'adaptive.slo.minSamples',
      value.minSamples,
      { min: 1, integer: true },
      20,
    );
    this.staleMs = durationField('adaptive.slo.staleMs', value.staleMs, { min: 1 }, this.windowMs);
    this.fallback = numberField(
      'adaptive.slo.fallback',
      value.fallback,
      { min: bounds.min, max: bounds.max },
      bounds.initial,
    );
    this.headroom = numberField('adaptive.slo.headroom', value.headroom, { min: 0, max: 0.9 }, 0.2);
    this.#window = new LatencyWindow(this.windowMs);
  }

  /** One response-latency sample (a turn's end of speech to first audio). */
  observe(latencyMs: number, now: number): void {
    this.#window.add(latencyMs, now);
    this.#sampled(now);
  }

  /** A quantile computed elsewhere over the same window (a Prometheus query, say). */
  observeQuantile(quantileMs: number, now: number): void {
    this.#external = { ms: quantileMs, at: now };
    this.#sampled(now);
  }

  /** A sample makes the signal live at once; the limit follows at the next interval. */
  #sampled(now: number): void {
    this.#lastSampleAt = now;
    this.#report('live');
  }

  /** Calls `listener` whenever the signal turns live or missing. */
  onSignal(listener: (state: LatencySignalState) => void): void {
    this.#listeners.push(listener);
  }

  /** Runs `tick` every `intervalMs` until `stop()`; the timer never keeps the process alive. */
  start(tick: () => void): void {
    if (this.#timer !== undefined) return;
    let due = performance.now() + this.intervalMs;
    this.#timer = setInterval(() => {
      // A tick behind its time means the event loop stalled: samples that arrived meanwhile
      // are still queued behind this tick, so the stall does not count as silence.
      const now = performance.now();
      this.#stalledMs = Math.max(0, now - due);
      due = now + this.intervalMs;
      tick();
    }, this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  stats(now: number): SloStats {
    return {
      quantile: this.quantile,
      targetMs: this.targetMs,
      state: this.#state ?? 'missing',
      quantileMs: this.#quantileMs,
      fallback: this.fallback,
      samples: this.#window.count(now),
    };
  }

  /** The next estimate, from the current one and the calls in progress (see the class). */
  next(estimate: number, inUse: number, now: number): number {
    if (now - this.#lastSampleAt - this.#stalledMs > this.staleMs) {
      this.#report('missing');
      this.#restart(now);
      return this.fallback;
    }
    this.#report('live');
    if (this.#settling) {
      if (inUse > Math.floor(estimate)) {
        this.#window.clear();
        return estimate;
      }
      this.#settling = false;
      this.#restart(now);
      return estimate;
    }
    const observed = this.#observed(now);
    if (observed === undefined) return estimate;
    this.#quantileMs = observed;
    const gradient = this.targetMs / Math.max(observed, Number.MIN_VALUE);
    const growBelow = this.targetMs * (1 - this.headroom);
    let next = estimate;
    if (gradient < 1) {
      next = estimate * Math.max(MIN_GRADIENT, gradient);
      this.#settling = true;
    } else if (observed < growBelow && inUse >= Math.floor(estimate)) {
      // Aim at the band's lower edge as if latency grew in proportion to the limit; it grows
      // faster past capacity, so take only part of the way.
      const proportional = estimate * (growBelow / observed - 1) * GROWTH_SMOOTHING;
      next = estimate + Math.min(Math.sqrt(estimate), Math.max(1, proportional));
    }
    if (next !== estimate) this.#restart(now);
    return next;
  }

  /** The quantile to act on: a fresh external one, else the window's own if it has enough. */
  #observed(now: number): number | undefined {
    const external = this.#external;
    if (external !== undefined && now - external.at <= this.staleMs) {
      return external.at >= this.#externalValidFrom ? external.ms : undefined;
    }
    if (this.#window.count(now) < this.minSamples) return undefined;
    return this.#window.quantile(this.quantile, now);
  }

  #restart(now: number): void {
    this.#window.clear();
    this.#externalValidFrom = now + this.windowMs;
  }

  #report(state: LatencySignalState['state']): void {
    if (state === this.#state) return;
    this.#state = state;
    const payload = { state, quantileMs: this.#quantileMs, fallback: this.fallback };
    for (const listener of this.#listeners) callListener(listener, payload);
  }
}

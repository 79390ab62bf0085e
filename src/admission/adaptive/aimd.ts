import { knownKeys, numberField, objectOrUndefined } from '../../internal/validate.js';
import type { LimitAlgorithm, LimitSample } from './algorithm.js';
import { LatencyFilter } from './latency-filter.js';
import { LatencyStats } from './latency-stats.js';
import { SlowStart } from './slow-start.js';

export interface AimdOptions {
  /** Added per round trip while setups are fast and the limit is in use. Default 1. */
  readonly increase?: number | undefined;
  /** Multiplier on a failed setup or a slow one. Default 0.9. */
  readonly backoff?: number | undefined;
  /**
   * Setups slower (on a short average) than this many times the uncontended baseline count as
   * overload, so the threshold calibrates itself instead of being told the capacity. Default 1.3.
   */
  readonly latencyFactor?: number | undefined;
  /** Fixed latency threshold instead of `latencyFactor`. */
  readonly latencyThresholdMs?: number | undefined;
}

/** Standard errors a level's latency rise must exceed to count (one check per level). */
const LEVEL_SIGMAS = 2;
/** Rises under this share of the level below's latency are not overload. */
const LEVEL_MIN_RISE = 0.02;
/** Round trips a failed probe's wait doubles up to, so a backend that grew is still found. */
const MAX_WAIT = 32;

/**
 * Additive increase, multiplicative decrease, as TCP does it, with the knee found by latency.
 * Slow start doubles the limit every round trip until setups fail or slow down clearly (see
 * `SlowStart`), then drops straight to the in-flight count that was still fast instead of
 * cutting from the overshoot; once the setups the overshoot started are back, it rises to the
 * knee all setups since the start show if that is higher (never to a count a setup failed
 * with). Every new level is then judged on one round trip of setups (the first against the
 * latency slow start saw without contention, a probe against the level below it): a level
 * slower than jitter explains steps down, one that holds is kept and, after a wait, probed one
 * step above. Steps grow while probes keep holding, so a backend that grew is followed quickly.
 * A probe that fails a setup or slows down goes back to the last level that held and doubles
 * the wait, so a capacity already found is probed rarely. A count a setup failed with (at
 * the exit from slow start, in a probe, while the overshoot drains) is remembered: probes stop
 * short of it, and one that would reach it waits twice as long again first, as a count shown
 * overloaded stays so until shown otherwise. A setup that fails under the limit
 * in force, also while the overshoot drains, lowers it below the failed setup's in-flight count
 * (at most by `backoff` once the level held); a short-term latency past `latencyFactor` x the
 * baseline multiplies the limit by `backoff`.
 */
export class AimdAlgorithm implements LimitAlgorithm {
  readonly name = 'aimd';
  readonly #increase: number;
  readonly #backoff: number;
  readonly #latencyFactor: number;
  readonly #thresholdMs: number | undefined;
  readonly #latency = new LatencyFilter(4, 2_000, { fullWindow: true });
  readonly #slowStart = new SlowStart();
  /** The highest level whose round trip held, 0 before any did. */
  #held = 0;
  /** Latency of the round trip that judged `#held`. */
  #heldLatency: LatencyStats | undefined;
  /** Latency of the setups at the level being judged. */
  #round = new LatencyStats();
  #judged = false;
  /** Round trips to keep a level that held before probing above it (`increase` shortens it). */
  #wait = 1;
  #kept = 0;
  /** Probes in a row that held. */
  #streak = 0;
  /**
   * Samples left from the setups slow start overshot with: they cannot lower the knee again,
   * but once all are back they raise it if all setups so far show it higher.
   */
  #draining = 0;
  /**
   * The lowest in-flight count a setup failed with since the last probe into it: a probe
   * stops short of it, and one that would reach it is put off by a wait twice as long first.
   * Forgotten once a level at or above it holds.
   */
  #failedAt = Number.POSITIVE_INFINITY;

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
    return this.#slowStart.active;
  }

  update(estimate: number, sample: LimitSample): number {
    // Setups started above the present limit ran under an older one (see LimitSample.inflight).
    const current = sample.inflight <= estimate;
    if (sample.failed) this.#failedAt = Math.min(this.#failedAt, sample.inflight);
    if (!sample.failed && current) this.#latency.add(sample.latencyMs);
    if (this.#slowStart.active) {
      const knee = this.#slowStart.observe(sample, estimate, this.#overloadRise());
      if (knee === undefined)
        // Growing proves nothing when under half the limit is in use.
        return sample.inflight * 2 < estimate ? estimate : estimate + 1;
      this.#draining = Math.ceil(estimate);
      return this.#move(knee, 1);
    }
    if (this.#draining > 0) {
      this.#draining--;
      const knee = this.#slowStart.settle(sample, this.#draining === 0, this.#overloadRise());
      if (knee !== undefined && knee > Math.floor(estimate)) return this.#move(knee, 1);
    }
    const level = Math.floor(estimate);
    const threshold = this.#thresholdMs ?? this.#latency.baseline * this.#latencyFactor;
    const overloaded = sample.failed || this.#latency.short > threshold;
    // A failed setup that ran under this limit counts even while the overshoot drains.
    if (overloaded && current && (this.#draining === 0 || sample.failed)) {
      // A failed setup shows its own count overloaded, at most `backoff` below the limit.
      const below = sample.failed
        ? Math.max(estimate * this.#backoff, Math.min(level, sample.inflight) - 1)
        : level;
      // A level not yet held goes back to the last that did (or one below it, if none did).
      if (!this.#judged) return this.#back(level, below);
      if (!sample.failed) return this.#move(estimate * this.#backoff, this.#wait);
      return this.#move(below, Math.min(MAX_WAIT, this.#wait * 2));
    }
    // Only setups started at the limit in force, all of it in use, judge it.
    if (overloaded || !current || sample.inflight < level) return estimate;
    if (this.#judged) {
      this.#kept++;
      return this.#probeWhenDue(estimate);
    }
    this.#round.add(sample.latencyMs);
    if (this.#round.count < level) return estimate;
    // A probe is judged against the level below it (a small step shows only there) and, so
    // that small steps cannot creep past the knee, against slow start's baseline. A level
    // judged again after a failed probe is not a probe: held to its own fastest round, it
    // would step down on jitter alone, each step lower held to the same round.
    const baseline = this.#slowStart.baseline;
    const slower =
      baseline.risesTo(this.#round, LEVEL_SIGMAS, this.#overloadRise()) ||
      (level > this.#held &&
        this.#heldLatency?.risesTo(this.#round, LEVEL_SIGMAS, LEVEL_MIN_RISE) === true);
    if (slower) {
      if (this.#held > 0 && this.#held < level) return this.#back(level, level);
      // Past the knee latency often grows faster than linearly, so Little's law undershoots.
      const little = (level * baseline.mean) / this.#round.mean;
      return this.#move(Math.min(level - 1, Math.sqrt(level * little)), this.#wait);
    }
    this.#streak = level > this.#held && this.#held > 0 ? this.#streak + 1 : 0;
    this.#held = level;
    this.#heldLatency = this.#round;
    this.#judged = true;
    return estimate;
  }

  /** Probes above a level that held once it was kept `wait` round trips. */
  #probeWhenDue(estimate: number): number {
    const level = Math.floor(estimate);
    if (this.#kept < (this.#wait * level) / this.#increase) return estimate;
    // Probes that keep holding step further: the knee may be far above (a backend that grew).
    const step = Math.max(1, Math.round(this.#increase)) * 2 ** Math.floor(this.#streak / 2);
    // A count a setup failed with is overloaded until shown otherwise: probe into it only
    // after waiting twice as long again, then forget it (a backend that grew is still found).
    // One at or below a level that held since says nothing about the counts above it.
    if (this.#failedAt <= level) this.#failedAt = Number.POSITIVE_INFINITY;
    if (level + 1 >= this.#failedAt) {
      this.#failedAt = Number.POSITIVE_INFINITY;
      this.#kept = 0;
      this.#wait = Math.min(MAX_WAIT, this.#wait * 2);
      return estimate;
    }
    return this.#move(Math.min(level + step, this.#failedAt - 1), this.#wait);
  }

  /**
   * Back to the last level that held, or to `below` if lower (a failed setup's count showed the
   * level that held overloaded too), waiting twice as long before the next probe.
   */
  #back(level: number, below: number): number {
    this.#streak = 0;
    const target = this.#held > 0 && this.#held < level ? this.#held : level - 1;
    return this.#move(Math.min(target, below), Math.min(MAX_WAIT, this.#wait * 2));
  }

  /**
   * The rise over the uncontended latency taken for overload: what `latencyFactor` (or
   * `latencyThresholdMs`) says, so slow start's exit and the probes judge by the same rule.
   */
  #overloadRise(): number {
    if (this.#thresholdMs === undefined) return this.#latencyFactor - 1;
    const baseline = this.#slowStart.baseline.mean;
    return baseline > 0 ? Math.max(0, this.#thresholdMs / baseline - 1) : 0;
  }

  /** Moves to `level`, judged on its next round trip; probes wait `wait` round trips once held. */
  #move(level: number, wait: number): number {
    const next = Math.max(1, Math.floor(level));
    if (next < this.#held) this.#held = next;
    this.#wait = wait;
    this.#round = new LatencyStats();
    this.#judged = false;
    this.#kept = 0;
    this.#latency.restartShort();
    return next;
  }
}

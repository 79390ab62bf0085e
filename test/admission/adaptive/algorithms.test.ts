import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AdaptiveLimit, adaptive } from '../../../src/admission/adaptive/adaptive-limit.js';
import { AimdAlgorithm } from '../../../src/admission/adaptive/aimd.js';
import type { LimitSample } from '../../../src/admission/adaptive/algorithm.js';
import { GradientAlgorithm } from '../../../src/admission/adaptive/gradient.js';
import { ConfigError } from '../../../src/iface/errors.js';

/** Feeds `n` samples with the limit fully in use; returns the limits seen after each. */
function feed(limit: AdaptiveLimit, n: number, sample: Omit<LimitSample, 'inflight'>): number[] {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) {
    limit.record({ ...sample, inflight: limit.current });
    seen.push(limit.current);
  }
  return seen;
}

const isNonDecreasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x >= xs[i - 1]!);
const isNonIncreasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x <= xs[i - 1]!);

describe.each([
  ['gradient', () => new GradientAlgorithm()],
  ['aimd', () => new AimdAlgorithm()],
] as const)('%s', (_name, algorithm) => {
  it('grows while latency stays flat and the limit is in use, up to max', () => {
    const limit = adaptive({ min: 2, max: 40, initial: 5, algorithm: algorithm() });
    const seen = feed(limit, 400, { latencyMs: 100, failed: false });
    expect(isNonDecreasing(seen)).toBe(true);
    expect(seen.at(-1)).toBe(40);
  });

  it('does not grow when under half the limit is in use', () => {
    const limit = adaptive({ min: 2, max: 40, initial: 20, algorithm: algorithm() });
    for (let i = 0; i < 100; i++) limit.record({ latencyMs: 100, failed: false, inflight: 3 });
    expect(limit.current).toBe(20);
  });

  it('shrinks when latency rises, and keeps shrinking down to min while it goes on rising', () => {
    const limit = adaptive({ min: 3, max: 40, initial: 30, algorithm: algorithm() });
    feed(limit, 50, { latencyMs: 100, failed: false });
    const before = limit.current;
    // Steps are per round trip (about `limit` setups): give it three.
    const afterJump = feed(limit, 3 * before, { latencyMs: 1_000, failed: false });
    expect(isNonIncreasing(afterJump)).toBe(true);
    expect(afterJump.at(-1)).toBeLessThan(before * 0.6);
    let latencyMs = 1_000;
    for (let i = 0; i < 100; i++) {
      latencyMs *= 1.1;
      limit.record({ latencyMs, failed: false, inflight: limit.current });
    }
    expect(limit.current).toBe(3);
  });

  it('shrinks on failed setups even when they are fast', () => {
    const limit = adaptive({ min: 1, max: 40, initial: 30, algorithm: algorithm() });
    feed(limit, 20, { latencyMs: 100, failed: false });
    const before = limit.current;
    const seen = feed(limit, 3 * before, { latencyMs: 100, failed: true });
    expect(isNonIncreasing(seen)).toBe(true);
    expect(seen.at(-1)).toBeLessThan(before / 2);
  });

  it('recovers after an overload ends', () => {
    const limit = adaptive({ min: 2, max: 40, initial: 20, algorithm: algorithm() });
    feed(limit, 50, { latencyMs: 100, failed: false });
    feed(limit, 100, { latencyMs: 2_000, failed: false });
    const low = limit.current;
    feed(limit, 400, { latencyMs: 100, failed: false });
    expect(limit.current).toBeGreaterThan(low);
  });

  it('stays within [min, max] for any sequence of samples', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 80 }),
        fc.array(
          fc.record({
            latencyMs: fc.oneof(fc.double({ min: 0, max: 60_000, noNaN: true }), fc.constant(0)),
            failed: fc.boolean(),
            inflight: fc.nat({ max: 200 }),
          }),
          { maxLength: 300 },
        ),
        (min, span, samples) => {
          const limit = adaptive({ min, max: min + span, algorithm: algorithm() });
          for (const sample of samples) {
            limit.record(sample);
            expect(limit.current).toBeGreaterThanOrEqual(min);
            expect(limit.current).toBeLessThanOrEqual(min + span);
            expect(Number.isInteger(limit.current)).toBe(true);
          }
        },
      ),
    );
  });
});

describe('adaptive()', () => {
  it('validates its options', () => {
    expect(() => adaptive({} as never)).toThrow(/adaptive.min: is required/);
    expect(() => adaptive({ min: 5, max: 2 })).toThrow(/adaptive.max: must be >= 5, got 2/);
    expect(() => adaptive({ min: 1, max: 5, initial: 9 })).toThrow(
      /adaptive.initial: must be <= 5, got 9/,
    );
    expect(() => adaptive({ min: 1, max: 5, algorithm: 'pid' as never })).toThrow(ConfigError);
    expect(() => adaptive({ min: 1, max: 5, algorithm: { aimd: { backoff: 2 } } })).toThrow(
      /aimd.backoff: must be <= 0.999/,
    );
    expect(() => adaptive({ min: 1, max: 5, algorithm: { gradient: { tolerance: 0.5 } } })).toThrow(
      /gradient.tolerance: must be >= 1/,
    );
  });

  it('reports changes and starts at initial, or at min', () => {
    expect(adaptive({ min: 3, max: 9 }).current).toBe(3);
    const limit = adaptive({ min: 1, max: 100, initial: 10, algorithm: 'aimd' });
    const changes: number[] = [];
    limit.onChange((n) => changes.push(n));
    limit.record({ latencyMs: 10, failed: false, inflight: 10 });
    limit.record({ latencyMs: 10, failed: true, inflight: 10 });
    expect(changes).toEqual([11, 9]);
  });
});

describe('aimd slow start and ceiling', () => {
  const fast = (inflight: number): LimitSample => ({ latencyMs: 100, failed: false, inflight });

  /** Fast samples with the limit in use until the estimate reaches `target`; how many it took. */
  function samplesToReach(aimd: AimdAlgorithm, from: number, target: number): number {
    let estimate = from;
    let samples = 0;
    while (estimate < target) {
      estimate = aimd.update(estimate, fast(Math.floor(estimate)));
      samples++;
    }
    return samples;
  }

  it.each([
    ['a failed setup', { latencyMs: 100, failed: true, inflight: 16 }],
    ['a latency rise', { latencyMs: 1_000, failed: false, inflight: 16 }],
  ] as const)('doubles per round trip until %s, then grows additively', (_cause, overload) => {
    const aimd = new AimdAlgorithm();
    // Slow start: one more per fast sample, so `estimate` samples (a round trip) double it.
    expect(samplesToReach(aimd, 4, 8)).toBe(4);
    expect(aimd.slowStart).toBe(true);
    const after = aimd.update(16, overload);
    expect(after).toBeLessThan(16);
    expect(aimd.slowStart).toBe(false);
    // A round trip of fast samples now adds at most one, where slow start would double.
    let next = after;
    for (let i = 0; i < Math.floor(after); i++) next = aimd.update(next, fast(Math.floor(next)));
    expect(next).toBeLessThanOrEqual(after + 1);
  });

  it('approaches the limit of the last failure slowly, and climbs past it at full speed', () => {
    const aimd = new AimdAlgorithm();
    samplesToReach(aimd, 10, 20);
    const backedOff = aimd.update(20, { latencyMs: 100, failed: true, inflight: 20 });
    expect(backedOff).toBe(18);
    const below = samplesToReach(aimd, backedOff, 20);
    const above = samplesToReach(aimd, 20, 22);
    // A quarter of the step below the ceiling: about four times the samples for the same rise.
    expect(below).toBeGreaterThan(3 * above);
    expect(below).toBeLessThan(5 * above);
  });
});

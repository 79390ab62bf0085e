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
    expect(() =>
      adaptive({ min: 1, max: 5, algorithm: { aimd: {}, gradient: {} } as never }),
    ).toThrow(/adaptive.algorithm: must name one algorithm, got aimd, gradient/);
    expect(() =>
      adaptive({ min: 1, max: 5, algorithm: { aimd: {}, backoff: 0.5 } as never }),
    ).toThrow(/adaptive.algorithm: must name one algorithm, got aimd, backoff/);
  });

  it.each(['aimd', 'gradient'] as const)(
    '%s: takes sub-millisecond jitter of instant setups for no rise in latency',
    (algorithm) => {
      const limit = adaptive({ min: 2, max: 100, initial: 4, algorithm });
      feed(limit, 20, { latencyMs: 0, failed: false });
      const seen = feed(limit, 200, { latencyMs: 0.05, failed: false });
      expect(isNonDecreasing(seen)).toBe(true);
      expect(limit.current).toBe(100);
    },
  );

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

describe('aimd slow start and knee', () => {
  const fast = (inflight: number): LimitSample => ({ latencyMs: 100, failed: false, inflight });

  /**
   * Where the default `latencyFactor` (1.3) says overload starts on this curve: setups 30%
   * slower than uncontended, at knee × 1.3^(2/3).
   */
  const overloadFrom = (knee: number): number => knee * 1.3 ** (2 / 3);

  /**
   * A backend whose setups take 100 ms up to `knee()` at once, then slow down as
   * (n / knee)^1.5, with ±20% jitter from a fixed sequence (the bench's simulation, in steps).
   */
  function backend(knee: () => number): (inflight: number) => number {
    let seed = 42;
    return (inflight) => {
      seed = (seed * 16_807) % 2_147_483_647;
      const jitter = 0.8 + (0.4 * seed) / 2_147_483_647;
      return 100 * Math.max(1, inflight / knee()) ** 1.5 * jitter;
    };
  }

  /** Runs `samples` setups through `aimd` at the limit in force; the limits seen after each. */
  function drive(
    limit: AdaptiveLimit,
    latency: (inflight: number) => number,
    samples: number,
  ): number[] {
    const seen: number[] = [];
    for (let i = 0; i < samples; i++) {
      const inflight = limit.current;
      limit.record({ latencyMs: latency(inflight), failed: false, inflight });
      seen.push(limit.current);
    }
    return seen;
  }

  /** Drives setups until a probe starts (the limit rises above a level that held): that level. */
  function untilProbe(limit: AdaptiveLimit, latency: (inflight: number) => number): number {
    let held = limit.current;
    while (limit.current <= held) {
      held = limit.current;
      drive(limit, latency, 1);
    }
    return held;
  }

  /**
   * A burst of `requests` setups against `backend`'s latency curve with round trips: up to
   * the limit run at once, each started with the count then in flight, and failing with the
   * bench's overload chance past `knee`; samples come back in finishing order, so the limit
   * hears of a count past the knee only a round trip after it allowed it. The limit after
   * each sample, and the number failed.
   */
  function burst(
    limit: AdaptiveLimit,
    knee: number,
    requests: number,
  ): { limits: number[]; failed: number } {
    const latency = backend(() => knee);
    let seed = 11;
    const running: { endsAt: number; sample: LimitSample }[] = [];
    const limits: number[] = [];
    let now = 0;
    let waiting = requests;
    let failed = 0;
    while (waiting > 0 || running.length > 0) {
      for (; waiting > 0 && running.length < limit.current; waiting--) {
        const inflight = running.length + 1;
        seed = (seed * 16_807) % 2_147_483_647;
        const fails = seed / 2_147_483_647 < (0.3 * Math.max(0, inflight - knee)) / inflight;
        const latencyMs = latency(inflight);
        running.push({ endsAt: now + latencyMs, sample: { latencyMs, failed: fails, inflight } });
        running.sort((a, b) => a.endsAt - b.endsAt);
      }
      const done = running.shift()!;
      now = done.endsAt;
      if (done.sample.failed) failed++;
      limit.record(done.sample);
      limits.push(limit.current);
    }
    return { limits, failed };
  }

  // Knees where this burst leaves slow start on a latency rise; at 20 the first failure ends it.
  it.each([40, 60])(
    'leaves slow start near the knee (%i) latency by in-flight count shows, not at half the overshoot',
    (knee) => {
      const aimd = new AimdAlgorithm();
      const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: aimd });
      const { limits } = burst(limit, knee, 20 * knee);
      const peak = Math.max(...limits);
      // Slow start's exit: the first limit lower than the one before it.
      const exit = limits.findIndex((value, i) => i > 0 && value < limits[i - 1]!);
      // By the time as many setups as the peak allowed have finished, the overshoot is back.
      const settled = limits[exit + peak]!;
      expect(settled).toBeGreaterThanOrEqual(knee * 0.9);
      expect(settled).toBeLessThanOrEqual(knee * 1.1);
    },
  );

  it.each([10, 20])(
    'keeps the knee (%i) once found while setups there differ only by jitter',
    (knee) => {
      const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: new AimdAlgorithm() });
      const { limits } = burst(limit, knee, 60 * knee);
      const exit = limits.findIndex((value, i) => i > 0 && value < limits[i - 1]!);
      const peak = Math.max(...limits);
      // Once the overshoot is back, jitter at the knee must not read as overload: not against
      // an uncontended latency taken from a few fast first setups, nor against one fast round.
      expect(Math.min(...limits.slice(exit + 2 * peak))).toBeGreaterThanOrEqual(knee * 0.9);
    },
  );

  it('doubles per round trip while setups are as fast as at the start', () => {
    const aimd = new AimdAlgorithm();
    let estimate = 4;
    // `estimate` samples (a round trip) double it.
    for (let i = 0; i < 4; i++) estimate = aimd.update(estimate, fast(Math.floor(estimate)));
    expect(estimate).toBe(8);
    expect(aimd.slowStart).toBe(true);
  });

  it('leaves slow start on a latency rise, before any failure, and settles at the knee', () => {
    const aimd = new AimdAlgorithm();
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: aimd });
    const seen = drive(
      limit,
      backend(() => 40),
      3_000,
    );
    expect(aimd.slowStart).toBe(false);
    // Slow start was left short of doubling past the knee, then dropped back near it.
    expect(Math.max(...seen)).toBeLessThan(60);
    // Without failures only latency stops the probes: a step of one shows inside the jitter,
    // so the limit may sit a little past the knee, short of where latencyFactor calls overload;
    // a probe above it lasts one round trip.
    const settled = seen.slice(-1_000);
    const sorted = [...settled].sort((a, b) => a - b);
    expect(sorted[0]).toBeGreaterThanOrEqual(36);
    expect(sorted[Math.floor(sorted.length * 0.9)]).toBeLessThanOrEqual(44);
    expect(sorted.at(-1)).toBeLessThan(overloadFrom(40));
  });

  it('is not lowered again by the setups slow start overshot with', () => {
    const aimd = new AimdAlgorithm();
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: aimd });
    const latency = backend(() => 40);
    while (aimd.slowStart) drive(limit, latency, 1);
    const knee = limit.current;
    // They come back slow (some failing), each started above the limit now in force; then
    // a round trip of setups started at the knee is as fast as before the overshoot.
    for (let i = 0; i < 200; i++)
      limit.record({ latencyMs: 400, failed: i % 3 === 0, inflight: knee + 10 });
    for (let i = 0; i < knee; i++) limit.record({ latencyMs: 100, failed: false, inflight: knee });
    expect(limit.current).toBeGreaterThanOrEqual(knee);
  });

  it('is not raised by the overshoot to a count a setup failed with', () => {
    const aimd = new AimdAlgorithm();
    let estimate = 5;
    for (let i = 0; i < 60; i++) {
      const latencyMs = 100 + ((i * 7) % 11) - 5;
      estimate = aimd.update(estimate, { latencyMs, failed: false, inflight: 1 + (i % 20) });
    }
    // A setup fails with 22 in flight, before latency shows anything.
    estimate = aimd.update(estimate, { latencyMs: 100, failed: true, inflight: 22 });
    expect(aimd.slowStart).toBe(false);
    expect(estimate).toBe(21);
    // The overshoot comes back as fast as the flat part up to 25 in flight, then slower: where
    // latency bends (inside the jitter, or on a convex curve) lies past the count that failed.
    for (let inflight = 21; inflight <= 70; inflight++) {
      const latencyMs = 100 * Math.max(1, inflight / 25) ** 2;
      estimate = aimd.update(estimate, { latencyMs, failed: false, inflight });
    }
    expect(estimate).toBeLessThanOrEqual(21);
  });

  it('does not lower the limit on a flat backend, whatever its latency', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 60_000, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        (latencyMs, initial) => {
          const limit = adaptive({ min: 1, max: 200, initial, algorithm: new AimdAlgorithm() });
          const seen = feed(limit, 600, { latencyMs, failed: false });
          expect(isNonDecreasing(seen)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('probes a knee it found rarely: a failed probe doubles the wait before the next', () => {
    const aimd = new AimdAlgorithm();
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: aimd });
    const seen = drive(
      limit,
      backend(() => 20),
      8_000,
    );
    const probes = (from: number, to: number): number =>
      seen.slice(from, to).filter((value, i, all) => i > 0 && value > all[i - 1]!).length;
    // The same number of setups later on sees fewer probes than just after the knee was found.
    expect(probes(6_000, 8_000)).toBeLessThan(probes(500, 2_500));
    expect(seen.at(-1)).toBeGreaterThanOrEqual(19);
    expect(seen.at(-1)).toBeLessThanOrEqual(overloadFrom(20));
  });

  it('recovers upward when the backend grows', () => {
    let knee = 20;
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: new AimdAlgorithm() });
    const latency = backend(() => knee);
    drive(limit, latency, 3_000);
    expect(limit.current).toBeLessThanOrEqual(overloadFrom(20));
    knee = 60;
    drive(limit, latency, 20_000);
    expect(limit.current).toBeGreaterThanOrEqual(54);
  });

  it('goes below the level that held when a probe fails a setup started within it', () => {
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: new AimdAlgorithm() });
    const latency = backend(() => 20);
    drive(limit, latency, 3_000);
    const held = untilProbe(limit, latency);
    limit.record({ latencyMs: 100, failed: true, inflight: held });
    expect(limit.current).toBe(held - 1);
  });

  it('is lowered by a failed setup that ran under the new limit while the overshoot drains', () => {
    const aimd = new AimdAlgorithm();
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: aimd });
    const latency = backend(() => 40);
    while (aimd.slowStart) drive(limit, latency, 1);
    const knee = limit.current;
    limit.record({ latencyMs: 100, failed: true, inflight: knee });
    expect(limit.current).toBe(knee - 1);
  });

  it('does not step down on one slow setup right after the limit moved', () => {
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: new AimdAlgorithm() });
    const latency = backend(() => 20);
    drive(limit, latency, 3_000);
    const before = limit.current;
    while (limit.current === before) drive(limit, latency, 1);
    const moved = limit.current;
    // One setup is jitter, not a trend: the short average waits for its window.
    limit.record({ latencyMs: 200, failed: false, inflight: moved });
    expect(limit.current).toBe(moved);
  });

  it('probes a count a setup failed with only after waiting twice as long', () => {
    const aimd = new AimdAlgorithm();
    let estimate = 5;
    while (estimate < 20) estimate = aimd.update(estimate, fast(Math.floor(estimate)));
    // A setup fails with 20 in flight: slow start ends one below it.
    estimate = aimd.update(estimate, { latencyMs: 100, failed: true, inflight: 20 });
    expect(estimate).toBe(19);
    // The overshoot comes back as fast as before, then setups run at 19, all fast.
    for (let i = 0; i < 20; i++) estimate = aimd.update(estimate, fast(30));
    let samples = 0;
    while (estimate <= 19 && samples < 1_000) {
      estimate = aimd.update(estimate, fast(19));
      samples++;
    }
    // A round trip judges 19 and one more keeps it before a probe; into 20, which failed, the
    // probe waits two more round trips first, and then steps to 20 alone.
    expect(samples).toBeGreaterThan(3 * 19);
    expect(estimate).toBe(20);
  });

  it('goes back to the level that held when a probe fails a setup', () => {
    const aimd = new AimdAlgorithm();
    const limit = adaptive({ min: 1, max: 500, initial: 5, algorithm: aimd });
    const latency = backend(() => 20);
    drive(limit, latency, 3_000);
    const held = untilProbe(limit, latency);
    limit.record({ latencyMs: 100, failed: true, inflight: limit.current });
    expect(limit.current).toBe(held);
  });
});

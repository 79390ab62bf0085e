import { describe, expect, it } from 'vitest';
import { LatencyProfile } from '../../../src/admission/adaptive/latency-profile.js';

/** Latencies flat at 100 ms up to `knee` in flight, then rising as (n / knee)^1.5, ±20%. */
function curve(knee: number): (inflight: number) => number {
  let seed = 7;
  return (inflight) => {
    seed = (seed * 16_807) % 2_147_483_647;
    return 100 * Math.max(1, inflight / knee) ** 1.5 * (0.8 + (0.4 * seed) / 2_147_483_647);
  };
}

describe('LatencyProfile', () => {
  it.each([10, 20, 40, 80])('finds where latency starts to rise (knee %i)', (knee) => {
    const profile = new LatencyProfile();
    const latency = curve(knee);
    // As slow start and its overshoot see them: a few setups per level, up to twice the knee.
    for (let inflight = 1; inflight <= 2 * knee; inflight++)
      for (let i = 0; i < 3; i++) profile.add(inflight, latency(inflight));
    const found = profile.knee();
    expect(found?.inflight).toBeGreaterThanOrEqual(knee * 0.9);
    expect(found?.inflight).toBeLessThanOrEqual(knee * 1.1);
    expect(found?.flatMs).toBeCloseTo(100, -1);
    expect(found?.rise).toBeGreaterThan(1);
  });

  it('finds no knee where latency does not depend on the count in flight', () => {
    const profile = new LatencyProfile();
    for (let inflight = 1; inflight <= 50; inflight++) profile.add(inflight, 100);
    expect(profile.knee()).toBeUndefined();
    const single = new LatencyProfile();
    single.add(3, 100);
    single.add(3, 900);
    expect(single.knee()).toBeUndefined();
  });
});

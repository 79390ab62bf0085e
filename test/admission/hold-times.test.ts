import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { Slot } from '../../src/admission/gate/slot.js';
import type { AdmissionRefusal } from '../../src/admission/types.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { useFakeClock } from '../support/fake-clock.js';

afterEach(() => {
  vi.useRealTimers();
});

function newAdmission(maxConcurrentSessions: number): Admission {
  return new Admission(new SimulatedBackend(), {
    maxConcurrentSessions,
    health: false,
    telemetry: false,
  });
}

function take(admission: Admission): Slot {
  const slot = admission.tryAcquire();
  if (!('release' in slot)) throw new Error(`refused: ${slot.code}`);
  return slot;
}

/** Takes and releases one slot `times` times, each held `holdMs`. */
function cycle(admission: Admission, times: number, holdMs: number): void {
  for (let i = 0; i < times; i++) {
    const slot = take(admission);
    vi.advanceTimersByTime(holdMs);
    slot.release();
  }
}

/** The retry hint of a refusal at the cap (cap 1: one slot frees per hold, on average). */
function retryHint(admission: Admission): number | undefined {
  const held = take(admission);
  const refusal = admission.tryAcquire() as AdmissionRefusal;
  held.release();
  return refusal.retryAfterMs;
}

describe('hold times', () => {
  it('reports each released slot with the time it was held', () => {
    useFakeClock();
    const admission = newAdmission(3);
    const held: number[] = [];
    admission.on('released', ({ heldMs }) => held.push(heldMs));
    const first = take(admission);
    vi.advanceTimersByTime(100);
    const second = take(admission);
    vi.advanceTimersByTime(250);
    first.release();
    vi.advanceTimersByTime(50);
    second.release();
    expect(held).toEqual([350, 300]);
  });

  it('times every release while a listener listens, past the sampled window too', () => {
    useFakeClock();
    const admission = newAdmission(1);
    cycle(admission, 100, 5);
    const held: number[] = [];
    admission.on('released', ({ heldMs }) => held.push(heldMs));
    for (let i = 1; i <= 20; i++) cycle(admission, 1, i);
    expect(held).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('bases the retry hint on recent hold times, however many releases there were', () => {
    useFakeClock();
    const admission = newAdmission(1);
    cycle(admission, 40, 100);
    expect(retryHint(admission)).toBe(100);
    // Past the first holds only a sample of releases is timed; the average still follows.
    cycle(admission, 2_000, 2_000);
    expect(retryHint(admission)).toBeGreaterThan(1_900);
    expect(retryHint(admission)).toBeLessThanOrEqual(2_000);
    cycle(admission, 2_000, 300);
    expect(retryHint(admission)).toBeGreaterThanOrEqual(300);
    expect(retryHint(admission)).toBeLessThan(400);
  });
});

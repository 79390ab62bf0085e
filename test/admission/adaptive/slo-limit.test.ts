import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adaptive } from '../../../src/admission/adaptive/adaptive-limit.js';
import { LatencyWindow } from '../../../src/admission/adaptive/latency-window.js';
import { SloController } from '../../../src/admission/adaptive/slo-limit.js';
import { Admission } from '../../../src/admission/admission.js';
import { ControlledBackend } from '../../support/controlled-backend.js';
import { useFakeClock } from '../../support/fake-clock.js';

const BOUNDS = { min: 2, max: 200, initial: 10 };
const SLO = { quantile: 0.95, targetMs: 1_000, windowMs: 30_000, minSamples: 10 };

/** Feeds `count` samples of `ms` at `now`. */
function feed(slo: SloController, ms: number, now: number, count = 20): void {
  for (let i = 0; i < count; i++) slo.observe(ms, now);
}

describe('LatencyWindow', () => {
  it('gives the nearest-rank quantile of the samples inside the window only', () => {
    const window = new LatencyWindow(1_000);
    for (let i = 1; i <= 100; i++) window.add(i, 0);
    expect(window.quantile(0.95, 500)).toBe(95);
    expect(window.quantile(0.5, 500)).toBe(50);
    window.add(7, 900);
    expect(window.quantile(0.5, 1_000)).toBe(7);
    expect(window.count(1_000)).toBe(1);
    expect(window.quantile(0.95, 2_000)).toBeUndefined();
  });

  it('keeps at most its bound of samples, dropping the oldest', () => {
    const window = new LatencyWindow(60_000, 100);
    for (let i = 0; i < 5_000; i++) window.add(i, i / 1000);
    expect(window.count(5)).toBe(100);
    expect(window.quantile(0.01, 5)).toBe(4_900);
  });
});

describe('SloController', () => {
  it('grows while the quantile holds well under the target and the limit is in use', () => {
    const slo = new SloController(SLO, BOUNDS);
    feed(slo, 400, 0);
    const grown = slo.next(10, 10, 1);
    // target/quantile = 2.5: proportional step 10 × 1.5 / 2 = 7.5, bounded by √10.
    expect(grown).toBeCloseTo(10 + Math.sqrt(10));
    // The window restarts after a change: no decision until fresh samples arrive.
    expect(slo.next(grown, 13, 2)).toBe(grown);
  });

  it('does not grow a limit that is not in use, nor inside the headroom band', () => {
    const idle = new SloController(SLO, BOUNDS);
    feed(idle, 400, 0);
    expect(idle.next(10, 4, 1)).toBe(10);
    const close = new SloController(SLO, BOUNDS);
    feed(close, 950, 0);
    expect(close.next(10, 10, 1)).toBe(10);
  });

  it('shrinks by target/quantile, at most by half, then waits for live calls to come down', () => {
    const slo = new SloController(SLO, BOUNDS);
    feed(slo, 1_250, 0);
    expect(slo.next(20, 20, 1)).toBe(16);
    // Still 20 calls under a limit of 16: the slow samples are theirs, the limit holds.
    feed(slo, 5_000, 2);
    expect(slo.next(16, 20, 3)).toBe(16);
    // Down to the limit: the window starts afresh.
    expect(slo.next(16, 16, 4)).toBe(16);
    feed(slo, 9_000, 5);
    expect(slo.next(16, 16, 6)).toBe(8);
  });

  it('falls back to the configured limit when samples stop, and says so once', () => {
    const slo = new SloController({ ...SLO, staleMs: 1_000, fallback: 12 }, BOUNDS);
    const signals: string[] = [];
    slo.onSignal((s) => signals.push(`${s.state}:${s.fallback}`));
    expect(slo.next(10, 0, 0)).toBe(12);
    feed(slo, 300, 10);
    expect(slo.next(12, 12, 20)).toBeGreaterThan(12);
    expect(slo.next(15, 15, 5_000)).toBe(12);
    expect(slo.next(12, 15, 6_000)).toBe(12);
    expect(signals).toEqual(['missing:12', 'live:12', 'missing:12']);
  });

  it('warns of a signal listener that throws, and tells the next one and the caller nothing', () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const limit = adaptive({ min: 1, max: 10, slo: SLO });
      const signals: string[] = [];
      limit.slo?.onSignal(() => {
        throw new Error('a listener that broke');
      });
      limit.slo?.onSignal((s) => signals.push(s.state));
      expect(() => limit.observeLatency(300)).not.toThrow();
      expect(signals).toEqual(['live']);
      expect(warnings).toHaveBeenCalledWith(
        expect.objectContaining({
          name: 'VoiceAdmissionListenerWarning',
          message: 'a listener that broke',
        }),
      );
    } finally {
      warnings.mockRestore();
    }
  });

  it('acts on an external quantile, but not on one that still covers the old limit', () => {
    const slo = new SloController(SLO, BOUNDS);
    slo.observeQuantile(2_000, 0);
    expect(slo.next(20, 20, 1)).toBe(10);
    slo.observeQuantile(300, 1_000);
    expect(slo.next(10, 10, 1_001)).toBe(10);
    // A query over 30 s run after the change no longer covers the old load.
    slo.observeQuantile(300, 31_002);
    expect(slo.next(10, 10, 31_003)).toBeCloseTo(10 + Math.sqrt(10));
  });

  it('bounds every step, whatever the samples and the load', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            samples: fc.array(fc.double({ min: 0, max: 60_000, noNaN: true }), { maxLength: 30 }),
            inUse: fc.nat(300),
            estimate: fc.double({ min: 1, max: 500, noNaN: true }),
            gapMs: fc.integer({ min: 1, max: 40_000 }),
          }),
          { maxLength: 30 },
        ),
        (steps) => {
          const slo = new SloController({ ...SLO, staleMs: 20_000 }, BOUNDS);
          let now = 0;
          for (const step of steps) {
            for (const ms of step.samples) slo.observe(ms, now);
            now += step.gapMs;
            const next = slo.next(step.estimate, step.inUse, now);
            if (slo.stats(now).state === 'missing') expect(next).toBe(10);
            else {
              expect(next).toBeGreaterThanOrEqual(step.estimate * 0.5);
              expect(next).toBeLessThanOrEqual(step.estimate + Math.sqrt(step.estimate) + 1e-9);
              // Growth only with the limit in use.
              if (step.inUse < Math.floor(step.estimate))
                expect(next).toBeLessThanOrEqual(step.estimate);
            }
          }
        },
      ),
    );
  });

  it('names the field and value it refuses', () => {
    expect(() => adaptive({ min: 1, max: 10, slo: { targetMs: -1 } })).toThrow(
      /adaptive\.slo\.targetMs.*-1/,
    );
    expect(() => adaptive({ min: 1, max: 10, slo: { targetMs: 1, quantile: 1.5 } })).toThrow(
      /adaptive\.slo\.quantile/,
    );
    expect(() => adaptive({ min: 1, max: 10, slo: { targetMs: 1, windowMs: 2 ** 31 } })).toThrow(
      /adaptive\.slo\.windowMs/,
    );
    expect(() => adaptive({ min: 5, max: 10, slo: { targetMs: 1, fallback: 2 } })).toThrow(
      /adaptive\.slo\.fallback.*2/,
    );
    expect(() => adaptive({ min: 1, max: 10, algorithm: 'aimd', slo: { targetMs: 1 } })).toThrow(
      /adaptive\.algorithm/,
    );
    // @ts-expect-error an unknown key
    expect(() => adaptive({ min: 1, max: 10, slo: { targetMs: 1, target: 2 } })).toThrow(
      /adaptive\.slo.*target/,
    );
  });

  it('refuses, fed directly, a sample or quantile that is not a latency', () => {
    const limit = adaptive({ min: 1, max: 10, slo: { targetMs: 100 } });
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, '5' as never]) {
      expect(() => limit.observeLatency(bad)).toThrow(/latencyMs: must be a number from 0/);
      expect(() => limit.observeQuantile(bad)).toThrow(/quantileMs: must be a number from 0/);
    }
    expect(limit.slo?.stats(0)).toMatchObject({ state: 'missing', samples: 0 });
  });
});

describe('Admission with a latency objective', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('steers the limit by observed latency, reports it, and never ends live calls', async () => {
    useFakeClock();
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 100,
      limit: adaptive({
        min: 2,
        max: 50,
        initial: 8,
        slo: { targetMs: 1_000, windowMs: 6_000, intervalMs: 1_000, minSamples: 5 },
      }),
      health: false,
    });
    const limits: number[] = [];
    const signals: string[] = [];
    admission.on('limits', (e) => limits.push(e.limit));
    admission.on('latency_signal', (e) => signals.push(e.state));

    const held = await Promise.all(Array.from({ length: 8 }, () => admission.acquire()));
    for (let i = 0; i < 10; i++)
      expect(admission.observeLatency(300, { tenantId: 'acme' })).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(admission.limit).toBe(10);
    expect(limits).toEqual([10]);
    expect(signals).toEqual(['live']);
    held.push(await admission.acquire(), await admission.acquire());

    for (let i = 0; i < 10; i++) admission.observeLatency(2_500);
    vi.advanceTimersByTime(1_000);
    expect(admission.limit).toBe(5);
    expect(admission.stats()).toMatchObject({
      limit: 5,
      active: 10,
      slo: { state: 'live', quantileMs: 2_500, targetMs: 1_000, quantile: 0.95 },
    });
    // Lowering the limit refuses new calls but keeps every live one.
    await expect(admission.acquire()).rejects.toMatchObject({ code: 'capacity' });
    expect(held.every((slot) => !slot.signal.aborted)).toBe(true);

    // No samples for a window: back to the configured limit, and the event says why.
    vi.advanceTimersByTime(7_000);
    expect(signals).toEqual(['live', 'missing']);
    expect(admission.limit).toBe(8);
    expect(admission.stats().slo?.state).toBe('missing');
    for (const slot of held) slot.release();
    await admission.drain();
  });

  it('steps from the hard cap when it was lowered under the limit', async () => {
    useFakeClock();
    const backend = new ControlledBackend();
    await backend.start();
    const limit = adaptive({
      min: 2,
      max: 50,
      initial: 40,
      slo: { targetMs: 1_000, windowMs: 6_000, intervalMs: 1_000, minSamples: 5 },
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 50, limit, health: false });
    const held = await Promise.all(Array.from({ length: 10 }, () => admission.acquire()));
    admission.setLimits({ maxConcurrentSessions: 10 });
    expect(limit.current).toBe(10);

    // Twice the target halves the limit in force at once, not a limit no longer in force.
    for (let i = 0; i < 10; i++) admission.observeLatency(2_000);
    vi.advanceTimersByTime(1_000);
    expect(admission.stats().limit).toBe(5);
    for (const slot of held) slot.release();
    await admission.drain();
  });

  it('does not take a stall of the process for missing samples', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 100,
      limit: adaptive({
        min: 2,
        max: 50,
        initial: 20,
        slo: { targetMs: 1_000, windowMs: 600, intervalMs: 100, minSamples: 5 },
      }),
      health: false,
    });
    const signals: string[] = [];
    admission.on('latency_signal', (e) => signals.push(e.state));
    const held = await Promise.all(Array.from({ length: 20 }, () => admission.acquire()));
    // Samples arrive as I/O does: after the timers of each turn of the event loop.
    let feeding = true;
    const feed = (): void => {
      if (!feeding) return;
      admission.observeLatency(3_000);
      setTimeout(() => setImmediate(feed), 10);
    };
    feed();
    await expect.poll(() => admission.limit).toBe(10);
    const stallEnds = performance.now() + 900;
    while (performance.now() < stallEnds) {
      // The event loop is blocked: the objective's timer falls behind, samples queue up.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    feeding = false;
    expect(signals).toEqual(['live']);
    expect(admission.limit).toBe(10);
    for (const slot of held) slot.release();
    await admission.drain();
  });

  it('turns the signal live with the sample that arrives, as stats() and the event say', async () => {
    useFakeClock();
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 100,
      limit: adaptive({ min: 2, max: 50, initial: 8, slo: { targetMs: 1_000, staleMs: 5_000 } }),
      health: false,
    });
    const signals: string[] = [];
    admission.on('latency_signal', (e) => signals.push(e.state));
    expect(admission.stats().slo).toMatchObject({ state: 'missing', samples: 0 });
    admission.observeLatency(300);
    expect(admission.stats().slo).toMatchObject({ state: 'live', samples: 1 });
    expect(signals).toEqual(['live']);
    // Stale: missing again, and the next sample is live at once.
    vi.advanceTimersByTime(10_000);
    expect(signals).toEqual(['live', 'missing']);
    admission.observeLatency(300);
    expect(admission.stats().slo?.state).toBe('live');
    expect(signals).toEqual(['live', 'missing', 'live']);
    await admission.drain();
  });

  it('refuses a sample that is not a latency, and ignores samples without an objective', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const plain = new Admission(backend, { maxConcurrentSessions: 3, health: false });
    expect(plain.observeLatency(100)).toBe(false);
    expect(plain.stats().slo).toBeUndefined();
    expect(() => plain.observeLatency(Number.NaN)).toThrow(/latencyMs.*NaN/);
    expect(() => plain.observeLatency(-1)).toThrow(/latencyMs/);
    // The bound the gateway takes samples under: one hour.
    expect(() => plain.observeLatency(1e308)).toThrow(
      /latencyMs: must be a number from 0 to 3600000 \(one hour\), got 1e\+308/,
    );
    expect(plain.observeLatency(3_600_000)).toBe(false);
    expect(() => plain.observeLatency(1, { tenantId: '' })).toThrow(/tenantId/);
    expect(() => plain.observeLatency(1, null as never)).toThrow(
      /^options: must be an object, got null$/,
    );
    expect(
      () =>
        new Admission(backend, {
          maxConcurrentSessions: 3,
          setup: { concurrency: adaptive({ min: 1, max: 3, slo: { targetMs: 500 } }) },
        }),
    ).toThrow(/options\.setup\.concurrency.*options\.limit/);
    await plain.drain();
  });
});

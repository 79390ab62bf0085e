import { afterEach, expect, it, vi } from 'vitest';
import { Admission, adaptive } from '../../../src/index.js';
import { ControlledBackend } from '../../support/controlled-backend.js';
import { useFakeClock } from '../../support/fake-clock.js';
import { testMeter, valueAt } from '../../support/metric-reader.js';

afterEach(() => {
  vi.useRealTimers();
});

it('the latency-steered limit is the voice.backend.capacity.limit gauge', async () => {
  useFakeClock();
  const { meterProvider, read } = testMeter();
  const admission = new Admission(new ControlledBackend(), {
    maxConcurrentSessions: 100,
    limit: adaptive({
      min: 2,
      max: 50,
      initial: 12,
      slo: { targetMs: 1_000, windowMs: 5_000, intervalMs: 1_000, minSamples: 3 },
    }),
    health: false,
    telemetry: { meterProvider },
  });
  const global = async () =>
    valueAt(await read('voice.backend.capacity.limit'), { 'voice.capacity.scope': 'global' });
  expect(await global()).toBe(12);
  const held = await Promise.all(Array.from({ length: 12 }, () => admission.acquire()));
  for (let i = 0; i < 3; i++) admission.observeLatency(1_600);
  vi.advanceTimersByTime(1_000);
  // 12 × 1000 / 1600 = 7.5
  expect(admission.limit).toBe(7);
  expect(await global()).toBe(7);
  for (const slot of held) slot.release();
  await admission.drain();
});

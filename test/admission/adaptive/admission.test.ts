import { afterEach, describe, expect, it, vi } from 'vitest';
import { adaptive } from '../../../src/admission/adaptive/adaptive-limit.js';
import { Admission } from '../../../src/admission/admission.js';
import { ControlledBackend } from '../../support/controlled-backend.js';
import { useFakeClock } from '../../support/fake-clock.js';
import { flush } from '../../support/flush.js';
import { watchUnhandledRejections } from '../../support/unhandled-rejections.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Admission with adaptive limits', () => {
  it('enforces the adaptive session limit under the hard cap, and reports it', async () => {
    const backend = new ControlledBackend({ autoComplete: 'fail' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 50,
      // Only failures count as overload here, so the test does not depend on wall-clock latency.
      limit: adaptive({
        min: 2,
        max: 100,
        initial: 4,
        algorithm: { aimd: { latencyThresholdMs: 60_000 } },
      }),
      health: false,
    });
    const limits: number[] = [];
    admission.on('limits', (e) => limits.push(e.limit));
    expect(admission.stats()).toMatchObject({ limit: 4, maxConcurrentSessions: 50 });
    const slots = await Promise.all([1, 2, 3, 4].map(() => admission.acquire()));
    await expect(admission.acquire()).rejects.toMatchObject({ code: 'capacity' });
    for (const slot of slots) slot.release();

    // Failing setups shrink it (multiplicative decrease, floored at min).
    for (let i = 0; i < 3; i++)
      await admission.createSession({ userId: `u${i}` }).catch(() => undefined);
    expect(admission.limit).toBe(2);
    expect(limits.at(-1)).toBe(2);
    expect(admission.stats().limit).toBe(2);

    // Successful setups with the limit in use grow it again, never past the hard cap.
    backend.autoComplete = 'succeed';
    admission.setLimits({ maxConcurrentSessions: 3 });
    for (let i = 0; i < 20; i++) {
      const sessions = await Promise.all(
        Array.from({ length: admission.limit }, (_, j) =>
          admission.createSession({ userId: `v${i}-${j}` }),
        ),
      );
      for (const session of sessions) await session.close();
      await flush();
    }
    expect(admission.limit).toBe(3);
    expect(admission.stats()).toMatchObject({ limit: 3, maxConcurrentSessions: 3 });
  });

  it('never takes the limit over the hard cap, so raising the cap climbs from it', async () => {
    // Setups take no time on a fake clock: gradient sees no latency change, whatever the load.
    useFakeClock();
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const limit = adaptive({ min: 2, max: 100, initial: 4, algorithm: 'gradient' });
    const admission = new Admission(backend, { maxConcurrentSessions: 50, limit, health: false });
    admission.setLimits({ maxConcurrentSessions: 3 });
    expect(limit.current).toBe(3);
    for (let i = 0; i < 10; i++) {
      const sessions = await Promise.all(
        Array.from({ length: admission.limit }, (_, j) =>
          admission.createSession({ userId: `u${i}-${j}` }),
        ),
      );
      for (const session of sessions) await session.close();
      await flush();
      expect(limit.current).toBeLessThanOrEqual(3);
    }
    admission.setLimits({ maxConcurrentSessions: 50 });
    expect(admission.limit).toBe(3);
  });

  it('adapts the concurrency of setups when setup.concurrency is adaptive', async () => {
    const backend = new ControlledBackend({ autoComplete: 'fail' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 100,
      setup: { concurrency: adaptive({ min: 1, max: 10, initial: 8, algorithm: 'aimd' }) },
      health: false,
    });
    expect(admission.stats().setupConcurrency).toBe(8);
    await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => admission.createSession({ userId: `u${i}` })),
    );
    expect(admission.stats().setupConcurrency).toBeLessThan(8);
    expect(admission.stats().setupConcurrency).toBeGreaterThanOrEqual(1);
  });

  it('one adaptive limit cannot drive two admissions', async () => {
    const backend = new ControlledBackend();
    const limit = adaptive({ min: 1, max: 10 });
    new Admission(backend, { maxConcurrentSessions: 10, limit, health: false });
    expect(
      () => new Admission(backend, { maxConcurrentSessions: 10, limit, health: false }),
    ).toThrow(/options.limit: this adaptive limit already drives another admission/);
    expect(
      () => new Admission(backend, { maxConcurrentSessions: 10, limit: 5 as never, health: false }),
    ).toThrow(/options.limit: must be adaptive/);
  });

  it('an Admission refused for its setup limit leaves its session limit free', () => {
    const backend = new ControlledBackend();
    const setupLimit = adaptive({ min: 1, max: 10 });
    new Admission(backend, {
      maxConcurrentSessions: 10,
      setup: { concurrency: setupLimit },
      health: false,
    });
    const limit = adaptive({ min: 1, max: 10 });
    expect(
      () =>
        new Admission(backend, {
          maxConcurrentSessions: 10,
          limit,
          setup: { concurrency: setupLimit },
          health: false,
        }),
    ).toThrow(/options.setup.concurrency: this adaptive limit already drives another admission/);
    expect(new Admission(backend, { maxConcurrentSessions: 10, limit, health: false }).limit).toBe(
      1,
    );
  });
  it('an algorithm or a limit listener of the caller that throws costs no setup: it is a warning', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unhandled = watchUnhandledRejections();
    const settle = async <T>(pending: Promise<T>, ok: boolean) => {
      await flush();
      const setup = [...backend.pending.values()][0]!;
      if (ok) setup.succeed();
      else setup.fail();
      return pending.then(
        () => 'created',
        (error: unknown) => (error as { code?: string }).code,
      );
    };
    try {
      const broken = adaptive({
        min: 1,
        max: 5,
        initial: 3,
        algorithm: {
          name: 'broken',
          update: () => {
            throw new Error('an algorithm that broke');
          },
        },
      });
      const first = new Admission(backend, {
        maxConcurrentSessions: 5,
        limit: broken,
        health: false,
      });
      expect(await settle(first.createSession({ userId: 'u' }), true)).toBe('created');
      expect([first.active, broken.current]).toEqual([1, 3]);

      const limit = adaptive({ min: 1, max: 5, initial: 3, algorithm: 'aimd' });
      limit.onChange(() => {
        throw new Error('a listener that broke');
      });
      const second = new Admission(backend, { maxConcurrentSessions: 5, limit, health: false });
      const events: number[] = [];
      second.on('limits', (e) => events.push(e.limit));
      expect(await settle(second.createSession({ userId: 'u' }), false)).toBe('setup_failed');
      expect([second.active, limit.current, events]).toEqual([0, 1, [1]]);
      for (const message of ['an algorithm that broke', 'a listener that broke'])
        expect(warnings).toHaveBeenCalledWith(
          expect.objectContaining({ name: 'VoiceAdmissionListenerWarning', message }),
        );
      expect(unhandled.reasons).toEqual([]);
    } finally {
      unhandled.stop();
      warnings.mockRestore();
    }
  });
});

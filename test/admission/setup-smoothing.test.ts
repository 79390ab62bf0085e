import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { useFakeClock } from '../support/fake-clock.js';
import { flush } from '../support/flush.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('setup smoothing', () => {
  it('holds at most setup.concurrency sessions in their setup phase; the rest hold slots and wait their turn', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 20,
      health: false,
      setup: { concurrency: 3 },
    });
    const creates = Array.from({ length: 10 }, (_, i) =>
      admission.createSession({ userId: `u${i}` }),
    );
    let peakSetups = 0;
    let completed = 0;
    while (completed < 10) {
      await flush();
      peakSetups = Math.max(peakSetups, backend.pending.size);
      expect(admission.stats()).toMatchObject({ active: 10, settingUp: 10 - completed });
      const next = [...backend.pending.values()][0];
      next?.succeed();
      if (next) completed++;
    }
    const sessions = await Promise.all(creates);
    expect(peakSetups).toBe(3);
    expect(backend.setupsStarted).toBe(10);
    expect(sessions.every((s) => s.state === 'active')).toBe(true);
  });

  it('spaces setup starts 1/perSecond apart', async () => {
    useFakeClock();
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 20,
      health: false,
      setup: { perSecond: 10 },
    });
    const creates = Array.from({ length: 5 }, (_, i) =>
      admission.createSession({ userId: `u${i}` }),
    );
    await flush();
    const started: number[] = [backend.setupsStarted];
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(100);
      await flush();
      started.push(backend.setupsStarted);
    }
    expect(started).toEqual([1, 2, 3, 4, 5, 5]);
    await Promise.all(creates);
  });

  it('a caller that aborts while waiting for its setup turn frees its slot and never reaches the backend', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 5,
      health: false,
      setup: { concurrency: 1 },
    });
    const first = admission.createSession({ userId: 'first' });
    const controller = new AbortController();
    const second = admission.createSession({ userId: 'second' }, { signal: controller.signal });
    await flush();
    expect(admission.active).toBe(2);
    controller.abort();
    await expect(second).rejects.toMatchObject({ code: 'aborted' });
    expect(admission.active).toBe(1);
    [...backend.pending.values()][0]!.succeed();
    await first;
    expect(backend.setupsStarted).toBe(1);
  });

  it('a setup slower than setup.timeoutMs fails with timeout and frees its slot', async () => {
    useFakeClock();
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 5,
      health: false,
      setup: { timeoutMs: 2_000 },
    });
    const create = admission.createSession({ userId: 'slow' });
    const outcome = create.catch((e: unknown) => e);
    await flush();
    vi.advanceTimersByTime(2_000);
    expect(await outcome).toMatchObject({
      name: 'BackendError',
      code: 'timeout',
      message: 'session setup took longer than 2000 ms',
    });
    expect(admission.active).toBe(0);
    expect(backend.open).toBe(0);
  });
});

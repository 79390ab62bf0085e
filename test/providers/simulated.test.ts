import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError } from '../../src/iface/errors.js';
import { MAX_TIMER_MS } from '../../src/internal/validate.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { useFakeClock } from '../support/fake-clock.js';
import { flush } from '../support/flush.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('simulated backend', () => {
  it('setup latency grows with concurrent setups past capacity', async () => {
    useFakeClock();
    const backend = new SimulatedBackend({
      providerConfig: {
        setupLatencyMs: 100,
        setupCapacity: 2,
        contentionExponent: 1,
        jitter: 0,
        overloadFailureRate: 0,
      },
    });
    await backend.start();
    const done: number[] = [];
    const creates = [0, 1, 2, 3].map((i) =>
      backend.createSession({ userId: `u${i}` }).then(() => done.push(i)),
    );
    // n = 1, 2 -> 100 ms; n = 3 -> 150 ms; n = 4 -> 200 ms.
    vi.advanceTimersByTime(100);
    await flush();
    expect(done).toEqual([0, 1]);
    vi.advanceTimersByTime(50);
    await flush();
    expect(done).toEqual([0, 1, 2]);
    vi.advanceTimersByTime(50);
    await Promise.all(creates);
    expect(backend.simulationStats()).toMatchObject({
      peakSetups: 4,
      setupsStarted: 4,
      openSessions: 4,
      setupsInProgress: 0,
    });
  });

  it('fails setups with the configured probability and past the setup timeout', async () => {
    useFakeClock();
    const failing = new SimulatedBackend({ providerConfig: { failureRate: 1, setupLatencyMs: 1 } });
    await failing.start();
    const outcome = failing.createSession({ userId: 'u' }).catch((e: unknown) => e);
    vi.advanceTimersByTime(1);
    expect(await outcome).toMatchObject({ name: 'BackendError', code: 'setup_failed' });

    const slow = new SimulatedBackend({
      providerConfig: { setupLatencyMs: 500, jitter: 0, setupTimeoutMs: 200 },
    });
    await slow.start();
    const timedOut = slow.createSession({ userId: 'u' }).catch((e: unknown) => e);
    vi.advanceTimersByTime(200);
    expect(await timedOut).toMatchObject({ code: 'timeout' });
    expect(failing.simulationStats().setupsFailed).toBe(1);
    expect(failing.getActiveSessionCount()).toBe(0);
  });

  it.each([
    [{ setupLatencyMs: 2 ** 31 }, 'setupLatencyMs'],
    [{ setupTimeoutMs: 2 ** 31 }, 'setupTimeoutMs'],
    [{ healthLatencyMs: 2 ** 31 }, 'healthLatencyMs'],
    [{ sessionDurationMs: 2 ** 31 }, 'sessionDurationMs'],
    [{ sessionDurationMs: { min: 0, max: 2 ** 31 } }, 'sessionDurationMs.max'],
  ])('refuses %o, a timer Node.js would fire after 1 ms', (providerConfig, field) => {
    expect(() => new SimulatedBackend({ providerConfig })).toThrow(
      `providerConfig.${field}: must be <= ${MAX_TIMER_MS} ms (the longest timer Node.js supports)`,
    );
  });

  it('holds a modelled setup latency beyond the longest timer for that long, not 1 ms', async () => {
    useFakeClock();
    const backend = new SimulatedBackend({
      providerConfig: {
        setupLatencyMs: MAX_TIMER_MS,
        setupCapacity: 1,
        contentionExponent: 1,
        jitter: 0,
        overloadFailureRate: 0,
      },
    });
    await backend.start();
    const done: string[] = [];
    // The second setup, under contention, is modelled at twice the longest timer.
    const creates = ['first', 'second'].map((userId) =>
      backend.createSession({ userId }).then(() => done.push(userId)),
    );
    vi.advanceTimersByTime(10);
    await flush();
    expect(done).toEqual([]);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    await Promise.all(creates);
    expect(done).toEqual(['first', 'second']);
  });

  it('ends sessions by themselves after the configured duration', async () => {
    useFakeClock();
    const backend = new SimulatedBackend({
      providerConfig: { setupLatencyMs: 0, sessionDurationMs: 1_000 },
    });
    await backend.start();
    const created = backend.createSession({ userId: 'u' });
    vi.advanceTimersByTime(0);
    const session = await created;
    vi.advanceTimersByTime(1_000);
    await expect(session.closed).resolves.toMatchObject({ reason: 'completed' });
    expect(backend.getActiveSessionCount()).toBe(0);
    expect(backend.simulationStats()).toMatchObject({ sessionsCompleted: 1, openSessions: 0 });
  });

  it('honours abort during setup and changes health at run time', async () => {
    const backend = new SimulatedBackend({ providerConfig: { setupLatencyMs: 10_000 } });
    await backend.start();
    const controller = new AbortController();
    const pending = backend.createSession({ userId: 'u' }, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(BackendError);
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    expect(backend.simulationStats()).toMatchObject({ setupsAborted: 1, setupsInProgress: 0 });

    expect(await backend.healthCheck()).toMatchObject({ healthy: true, status: 'healthy' });
    backend.setHealth('unhealthy', 'rehearsed outage');
    expect(await backend.healthCheck()).toMatchObject({
      healthy: false,
      status: 'unhealthy',
      reason: 'rehearsed outage',
    });
    backend.setHealth('degraded');
    expect(await backend.healthCheck()).toMatchObject({ healthy: true, status: 'degraded' });
    expect(() => backend.setFailureRate(2)).toThrow(RangeError);
    await backend.stop();
  });

  it('is reproducible for a seed', async () => {
    const run = async (seed: number) => {
      const backend = new SimulatedBackend({
        providerConfig: { setupLatencyMs: 1, failureRate: 0.5, seed },
      });
      await backend.start();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => backend.createSession({ userId: `u${i}` })),
      );
      await backend.stop();
      return outcomes.map((o) => o.status);
    };
    expect(await run(42)).toEqual(await run(42));
  });
});

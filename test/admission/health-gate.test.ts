import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { useFakeClock } from '../support/fake-clock.js';
import { flush, track } from '../support/flush.js';
import { watchUnhandledRejections } from '../support/unhandled-rejections.js';

afterEach(() => {
  vi.useRealTimers();
});

async function tick(ms: number): Promise<void> {
  vi.advanceTimersByTime(ms);
  await flush();
}

async function setup(failureThreshold = 1) {
  useFakeClock();
  const backend = new ControlledBackend({ autoComplete: 'succeed' });
  await backend.start();
  const admission = new Admission(backend, {
    maxConcurrentSessions: 1_000,
    queue: { maxSize: 10, timeoutMs: 60_000 },
    health: { intervalMs: 1_000, timeoutMs: 100, failureThreshold },
  });
  const changes: string[] = [];
  admission.on('health', (e) => changes.push(`${e.status.status}:${e.admitting}`));
  await tick(0);
  return { backend, admission, changes };
}

describe('health gate', () => {
  it('checks in the background on an interval, never once per create', async () => {
    const { backend, admission } = await setup();
    expect(backend.healthChecks).toBe(1);
    const sessions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => admission.createSession({ userId: `u${i}` })),
    );
    expect(sessions).toHaveLength(100);
    expect(backend.healthChecks).toBe(1);
    await tick(1_000);
    await tick(1_000);
    expect(backend.healthChecks).toBe(3);
  });

  it('refuses fast with unhealthy and a retryAfterMs after the failure threshold, without calling the backend', async () => {
    const { backend, admission, changes } = await setup(2);
    backend.health = { healthy: false, status: 'unhealthy', reason: 'media server down' };
    await tick(1_000);
    // One failed check is below the threshold: still admitting.
    await expect(admission.createSession({ userId: 'a' })).resolves.toBeDefined();
    await tick(1_000);
    const started = backend.setupsStarted;
    const refusal = await admission.createSession({ userId: 'b' }).catch((e: unknown) => e);
    expect(refusal).toMatchObject({
      name: 'AdmissionError',
      code: 'unhealthy',
      cause: 'media server down',
    });
    const retryAfterMs = (refusal as { retryAfterMs: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(backend.setupsStarted).toBe(started);
    expect(admission.stats()).toMatchObject({ admitting: false, health: { status: 'unhealthy' } });

    backend.health = { healthy: true, status: 'healthy' };
    await tick(1_000);
    await expect(admission.createSession({ userId: 'c' })).resolves.toBeDefined();
    expect(changes).toEqual(['healthy:true', 'unhealthy:true', 'unhealthy:false', 'healthy:true']);
  });

  it('a refusal while a check runs says to retry once it can have answered, not at once', async () => {
    const { backend, admission } = await setup();
    backend.healthHangs = true;
    await tick(1_000);
    await tick(100); // the check timed out: closed
    await tick(1_000 + 40); // the next check, due 1 s after, has run for 40 ms of its 100
    const refusal = await admission.createSession({ userId: 'a' }).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ code: 'unhealthy' });
    expect((refusal as { retryAfterMs: number }).retryAfterMs).toBe(60);
  });

  it('a check that never answers counts as failed after its timeout', async () => {
    const { backend, admission } = await setup();
    backend.healthHangs = true;
    await tick(1_000);
    await tick(100);
    expect(admission.stats().health).toMatchObject({
      healthy: false,
      reason: 'health check did not answer within 100 ms',
    });
    await expect(admission.acquire()).rejects.toMatchObject({ code: 'unhealthy' });
  });

  it('checkHealth() called again while a check runs answers both callers with the newest check', async () => {
    const { backend, admission } = await setup();
    const slow = vi
      .spyOn(backend, 'healthCheck')
      .mockImplementation(
        () =>
          new Promise((resolve) =>
            setTimeout(
              () => resolve({ healthy: true, status: 'healthy', checkedAt: 0, latencyMs: 10 }),
              10,
            ),
          ),
      );
    const first = track(admission.checkHealth());
    const second = track(admission.checkHealth());
    await flush();
    // The first check was superseded, not failed: it is answered when the newest one is.
    expect(first.result.status).toBe('pending');
    await tick(10);
    expect(first.result).toMatchObject({ status: 'fulfilled', value: { healthy: true } });
    expect(first.result.value).toBe(second.result.value);
    expect(admission.stats().health).toMatchObject({ healthy: true });
    slow.mockRestore();
  });

  it('a check answering with something other than a HealthStatus counts as failed', async () => {
    const { backend, admission } = await setup();
    for (const answer of [
      undefined,
      null,
      'ok',
      { status: 'healthy' },
      // Read as healthy, these left the health gauge with no value (an alert on 0 never fired).
      { healthy: false },
      { healthy: true, status: 'ok' },
      { healthy: true, status: 'unhealthy' },
    ]) {
      vi.spyOn(backend, 'healthCheck').mockResolvedValueOnce(answer as never);
      await tick(1_000);
      expect(admission.stats().health).toMatchObject({
        healthy: false,
        status: 'unhealthy',
        reason: expect.stringMatching(
          /^health check failed: answered with .+, not a HealthStatus$/,
        ),
      });
      await expect(admission.acquire()).rejects.toMatchObject({ code: 'unhealthy' });
      await tick(1_000);
      expect(admission.stats().admitting).toBe(true);
    }
  });

  it('a check failing with a value that has no string form counts as failed, in the background too', async () => {
    const { backend, admission } = await setup();
    const unhandled = watchUnhandledRejections();
    try {
      const noStringForm = Object.create(null) as object;
      vi.spyOn(backend, 'healthCheck').mockRejectedValue(noStringForm);
      await tick(1_000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(admission.stats().health).toMatchObject({
        healthy: false,
        reason: 'health check failed: [object Object]',
      });
      await expect(admission.checkHealth()).resolves.toMatchObject({ healthy: false });
      expect(unhandled.reasons).toEqual([]);
    } finally {
      unhandled.stop();
    }
  });

  it('keeps queued requests waiting through an outage and serves them on recovery', async () => {
    const { backend, admission } = await setup();
    admission.setLimits({ maxConcurrentSessions: 1 });
    const held = await admission.acquire();
    const waiting = track(admission.acquire());
    backend.health = { healthy: false, status: 'unhealthy', reason: 'blip' };
    await tick(1_000);
    held.release();
    await flush();
    expect(waiting.result.status).toBe('pending');
    backend.health = { healthy: true, status: 'healthy' };
    await tick(1_000);
    expect(waiting.result.status).toBe('fulfilled');
  });

  it('degraded still admits', async () => {
    const { backend, admission } = await setup();
    backend.health = { healthy: true, status: 'degraded', reason: 'slow' };
    await tick(1_000);
    expect(admission.stats()).toMatchObject({ admitting: true, health: { status: 'degraded' } });
    await expect(admission.acquire()).resolves.toBeDefined();
  });
  it('refuses at construction a backend without healthCheck while health gating is on', () => {
    const backend = { provider: 'bare', createSession: () => Promise.reject(new Error('unused')) };
    expect(() => new Admission(backend as never, { maxConcurrentSessions: 1 })).toThrow(
      /^backend.healthCheck: must be a function while health gating is on/,
    );
    // Without the gate, nothing asks it.
    expect(
      () => new Admission(backend as never, { maxConcurrentSessions: 1, health: false }),
    ).not.toThrow();
  });

  it('checkHealth() without the gate answers a healthCheck that throws with a rejection', async () => {
    const failure = new Error('no route to the media server');
    const backend = {
      provider: 'bare',
      createSession: () => Promise.reject(new Error('unused')),
      healthCheck: () => {
        throw failure;
      },
    };
    const admission = new Admission(backend as never, { maxConcurrentSessions: 1, health: false });
    let answer: Promise<unknown> | undefined;
    expect(() => {
      answer = admission.checkHealth();
    }).not.toThrow();
    await expect(answer).rejects.toBe(failure);
  });

  it('answers a superseded check with the newest, also once the newest has answered', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      health: { intervalMs: 60_000, timeoutMs: 1_000 },
    });
    // The first background check has answered: none runs until a minute later.
    while (admission.stats().health === undefined) await flush();
    // Superseded while the newest runs: answered with the newest, as before.
    const first = admission.checkHealth();
    const second = admission.checkHealth();
    expect(await first).toBe(await second);
    // Superseded by one that answered inside the call: answered with that one's status.
    const probe = vi
      .spyOn(backend, 'healthCheck')
      .mockImplementationOnce(() => new Promise(() => undefined))
      .mockImplementationOnce(() => {
        throw new Error('no route');
      });
    const hanging = admission.checkHealth();
    const thrown = admission.checkHealth();
    expect(await hanging).toBe(await thrown);
    expect(await thrown).toMatchObject({ healthy: false, reason: 'health check failed: no route' });
    probe.mockRestore();
    await admission.drain({ timeoutMs: 0 });
  });
});

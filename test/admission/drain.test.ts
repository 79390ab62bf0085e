import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { DrainOptions } from '../../src/admission/types.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { useFakeClock } from '../support/fake-clock.js';
import { flush, track } from '../support/flush.js';
import { HostileBackend } from '../support/hostile-backend.js';

afterEach(() => {
  vi.useRealTimers();
});

async function setup(max = 3) {
  const backend = new ControlledBackend();
  await backend.start();
  const admission = new Admission(backend, {
    maxConcurrentSessions: max,
    health: false,
    queue: { maxSize: 10 },
  });
  return { backend, admission };
}

describe('drain', () => {
  it('refuses new and queued requests with draining and resolves once sessions end on their own', async () => {
    useFakeClock();
    const { backend, admission } = await setup(1);
    backend.autoComplete = 'succeed';
    const session = await admission.createSession({ userId: 'in-call' });
    const queued = track(admission.createSession({ userId: 'waiting' }));
    await flush();
    const drained = track(admission.drain({ timeoutMs: 10_000 }));
    await flush();
    expect(queued.result.error).toMatchObject({ code: 'draining' });
    await expect(admission.createSession({ userId: 'late' })).rejects.toMatchObject({
      code: 'draining',
    });
    await expect(admission.acquire()).rejects.toMatchObject({ code: 'draining' });
    expect(admission.state).toBe('draining');
    vi.advanceTimersByTime(5_000);
    await flush();
    expect(drained.result.status).toBe('pending');
    await session.close();
    await flush();
    expect(drained.result.value).toMatchObject({
      timedOut: false,
      activeAtStart: 1,
      rejectedWaiters: 1,
      closedAtDeadline: 0,
      stillActive: 0,
    });
    expect(admission.state).toBe('drained');
    expect(session.state).toBe('closed');
  });

  it('closes the remaining sessions at the deadline, aborts setups under way and signals raw slot holders', async () => {
    useFakeClock();
    const { backend, admission } = await setup(3);
    backend.autoComplete = 'succeed';
    const session = await admission.createSession({ userId: 'long-call' });
    backend.autoComplete = undefined;
    const settingUp = track(admission.createSession({ userId: 'joining' }));
    const slot = await admission.acquire({ tenantId: 'job' });
    await flush();
    const drained = track(admission.drain({ timeoutMs: 1_000 }));
    vi.advanceTimersByTime(1_000);
    await flush();
    await flush();
    expect(session.state).toBe('closed');
    await expect(session.closed).resolves.toMatchObject({ reason: 'drained' });
    expect(settingUp.result.error).toMatchObject({ code: 'draining', tenantId: 'default' });
    // Its signal is first read after the revoke: made then, already aborted with the reason.
    expect(slot.signal.aborted).toBe(true);
    expect(slot.signal.reason).toMatchObject({ code: 'draining', tenantId: 'job' });
    // The raw slot's holder has up to closeTimeoutMs to give it back on its signal.
    expect(drained.result.status).toBe('pending');
    slot.release();
    await flush();
    expect(drained.result.value).toMatchObject({
      timedOut: true,
      closedAtDeadline: 1,
      revokedSlots: 1,
      stillActive: 0,
    });
    expect(backend.open).toBe(0);
    expect(admission.active).toBe(0);
  });

  it('waits closeTimeoutMs for a raw slot whose holder ignores its signal, then counts it', async () => {
    useFakeClock();
    const { admission } = await setup(1);
    const slot = await admission.acquire({ tenantId: 'job' });
    const drained = track(admission.drain({ timeoutMs: 1_000, closeTimeoutMs: 2_000 }));
    vi.advanceTimersByTime(1_000);
    await flush();
    expect(slot.signal.aborted).toBe(true);
    vi.advanceTimersByTime(1_999);
    await flush();
    expect(drained.result.status).toBe('pending');
    vi.advanceTimersByTime(1);
    await flush();
    expect(drained.result.value).toMatchObject({ timedOut: true, revokedSlots: 1, stillActive: 1 });
    slot.release();
    expect(admission.active).toBe(0);
  });

  it('is idempotent and validates its options', async () => {
    const { admission } = await setup();
    // Refused as a rejection, never a throw, and before anything stops.
    const refused = admission.drain({ timeoutMs: -1 });
    await expect(refused).rejects.toThrow(/options.timeoutMs: must be >= 0, got -1/);
    await expect(
      admission.drain({ timeoutMs: '5s' } as unknown as DrainOptions),
    ).rejects.toMatchObject({ name: 'ConfigError' });
    await expect(admission.drain(42 as unknown as DrainOptions)).rejects.toMatchObject({
      name: 'ConfigError',
    });
    expect(admission.state).toBe('open');
    const a = admission.drain({ timeoutMs: 0 });
    expect(admission.drain()).toBe(a);
    await expect(a).resolves.toMatchObject({ timedOut: false, activeAtStart: 0 });
  });

  it('lets a later call bring a deadline forward, never back; a call without options joins as it is', async () => {
    useFakeClock();
    const { backend, admission } = await setup(2);
    backend.autoComplete = 'succeed';
    const session = await admission.createSession({ userId: 'long-call' });
    const drain = admission.drain({ timeoutMs: Number.POSITIVE_INFINITY });
    const drained = track(drain);
    expect(admission.drain()).toBe(drain);
    expect(admission.drain({ timeoutMs: 120_000 })).toBe(drain);
    vi.advanceTimersByTime(60_000);
    await flush();
    expect(drained.result.status).toBe('pending');
    // Later than the 120 s already in force: ignored.
    admission.drain({ timeoutMs: 600_000 });
    vi.advanceTimersByTime(60_000);
    await flush();
    await flush();
    expect(session.state).toBe('closed');
    expect(drained.result.value).toMatchObject({ timedOut: true, closedAtDeadline: 1 });
  });

  it('lets a later call shorten the wait for closes once the deadline has passed', async () => {
    useFakeClock();
    const { backend, admission } = await setup(2);
    backend.autoComplete = 'succeed';
    await admission.createSession({ userId: 'slow-to-close' });
    backend.teardownWaits = new Promise(() => undefined);
    const drained = track(admission.drain({ timeoutMs: 0, closeTimeoutMs: 60_000 }));
    vi.advanceTimersByTime(0);
    await flush();
    expect(drained.result.status).toBe('pending');
    await expect(admission.drain({ closeTimeoutMs: -1 })).rejects.toThrow(/options.closeTimeoutMs/);
    admission.drain({ closeTimeoutMs: 1_000 });
    vi.advanceTimersByTime(1_000);
    await flush();
    expect(drained.result.value).toMatchObject({ timedOut: true, stillActive: 1 });
  });

  it('is shut before its draining event: a listener is refused like any caller and gets this drain', async () => {
    const { admission } = await setup();
    const inListener: unknown[] = [];
    let again: Promise<unknown> | undefined;
    admission.on('draining', () => {
      inListener.push(admission.tryAcquire());
      inListener.push(track(admission.acquire()));
      again = admission.drain({ timeoutMs: 60_000 });
    });
    let drainedEvents = 0;
    admission.on('drained', () => drainedEvents++);
    const drained = admission.drain({ timeoutMs: 0 });
    expect(again).toBe(drained);
    expect(inListener[0]).toMatchObject({ code: 'draining' });
    await drained;
    await flush();
    expect((inListener[1] as ReturnType<typeof track>).result.error).toMatchObject({
      code: 'draining',
    });
    expect(drainedEvents).toBe(1);
    expect(admission.active).toBe(0);
  });

  it('keeps the process alive while it runs, and leaves nothing behind once done', async () => {
    const { admission } = await setup();
    const slot = await admission.acquire();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const drained = admission.drain({ timeoutMs: 60_000 });
    // The deadline is real work (closing sessions): it holds the process open meanwhile.
    expect(timers()).toBe(before + 1);
    slot.release();
    await drained;
    expect(timers()).toBe(before);
  });
  it('refuses at once a retry waiting for an abandoned creation of its key, as it does waiters', async () => {
    // A create that ignores its abort signal and settles only much later.
    const backend = new HostileBackend();
    backend.plan = () => ({ settleMs: 60_000, outcome: 'succeed', onAbort: 'ignore', closeMs: 0 });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 3,
      health: false,
      queue: { maxSize: 10, timeoutMs: 60_000 },
    });
    const config = { userId: 'caller', idempotencyKey: 'job-1' };
    const gone = new AbortController();
    const first = admission.createSession(config, { signal: gone.signal });
    await flush();
    gone.abort();
    await expect(first).rejects.toMatchObject({ code: 'aborted' });
    // The key is still taken by that creation: the retry waits for it.
    const retry = track(admission.createSession(config));
    await flush();
    expect(retry.result.status).toBe('pending');
    const drained = admission.drain({ timeoutMs: 0, closeTimeoutMs: 0 });
    await flush();
    expect(retry.result.error).toMatchObject({ code: 'draining' });
    expect(await drained).toMatchObject({ rejectedWaiters: 1, stillActive: 1 });
    // Arriving during the drain, it does not wait either.
    await expect(admission.createSession(config)).rejects.toMatchObject({ code: 'draining' });
  });
});

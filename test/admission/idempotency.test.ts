import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { VoiceBackend } from '../../src/iface/backend.js';
import type {
  SessionConfig,
  SessionEnd,
  SessionEndReason,
  VoiceSession,
} from '../../src/iface/session.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush, track } from '../support/flush.js';
import { HostileBackend } from '../support/hostile-backend.js';

async function setup() {
  const backend = new ControlledBackend();
  await backend.start();
  const admission = new Admission(backend, { maxConcurrentSessions: 10, health: false });
  return { backend, admission };
}

/**
 * A backend of the caller's own, written without the types, whose sessions have no `state`:
 * each create answers at once with a session open until it is closed.
 */
function statelessBackend() {
  let creates = 0;
  const backend = {
    provider: 'stateless',
    config: {},
    get creates() {
      return creates;
    },
    createSession: async (config: SessionConfig) => {
      creates++;
      let end: (value: SessionEnd) => void = () => undefined;
      const closed = new Promise<SessionEnd>((resolve) => {
        end = resolve;
      });
      return {
        id: `s${creates}`,
        provider: 'stateless',
        tenantId: config.tenantId ?? 'default',
        userId: config.userId,
        createdAt: Date.now(),
        connection: { url: 'ws://127.0.0.1:1', roomName: `room-${creates}`, token: 'token' },
        metadata: undefined,
        closed,
        close: (reason: SessionEndReason = 'closed') => {
          end({ reason, endedAt: Date.now() });
          return closed;
        },
      } as unknown as VoiceSession;
    },
  };
  return backend as unknown as VoiceBackend & { readonly creates: number };
}

describe('idempotent creation', () => {
  it('a request with the key of a session being created gets that same session; the backend is asked once', async () => {
    const { backend, admission } = await setup();
    const config = { userId: 'caller', tenantId: 't', idempotencyKey: 'job-1' };
    const first = admission.createSession(config);
    const retried = admission.createSession(config);
    await flush();
    expect(backend.setupsStarted).toBe(1);
    expect(admission.active).toBe(1);
    [...backend.pending.values()][0]!.succeed();
    const [a, b] = await Promise.all([first, retried]);
    expect(b).toBe(a);
    // While it is active, the key still returns it, without a new slot.
    const third = await admission.createSession(config);
    expect(third).toBe(a);
    expect(admission.active).toBe(1);
    expect(backend.setupsStarted).toBe(1);
  });

  it('frees the key once the session ends, and after a failed creation', async () => {
    const { backend, admission } = await setup();
    backend.autoComplete = 'succeed';
    const config = { userId: 'caller', idempotencyKey: 'job-2' };
    const session = await admission.createSession(config);
    await session.close();
    await flush();
    const next = await admission.createSession(config);
    expect(next).not.toBe(session);
    await next.close();

    backend.autoComplete = 'fail';
    await expect(admission.createSession(config)).rejects.toMatchObject({ code: 'setup_failed' });
    backend.autoComplete = 'succeed';
    await expect(admission.createSession(config)).resolves.toMatchObject({ state: 'active' });
    expect(backend.setupsStarted).toBe(4);
  });

  it('keys are scoped per tenant', async () => {
    const { backend, admission } = await setup();
    backend.autoComplete = 'succeed';
    const a = await admission.createSession({ userId: 'u', tenantId: 'one', idempotencyKey: 'k' });
    const b = await admission.createSession({ userId: 'u', tenantId: 'two', idempotencyKey: 'k' });
    expect(a).not.toBe(b);
    expect(admission.active).toBe(2);
  });

  it('refuses a request whose signal has aborted already, even when its key has a live session', async () => {
    const { backend, admission } = await setup();
    backend.autoComplete = 'succeed';
    const config = { userId: 'caller', idempotencyKey: 'job-4' };
    const held = await admission.createSession(config);
    const refused: string[] = [];
    admission.on('refused', (e) => refused.push(e.code));
    const gone = new AbortController();
    gone.abort('caller hung up');
    await expect(admission.createSession(config, { signal: gone.signal })).rejects.toMatchObject({
      code: 'aborted',
      cause: 'caller hung up',
    });
    expect(refused).toEqual(['aborted']);
    // The session goes on, and its key still returns it.
    expect(held.state).toBe('active');
    await expect(admission.createSession(config)).resolves.toBe(held);
    expect(admission.active).toBe(1);
  });

  it('refuses a key reused by another user with duplicate and the holding session id', async () => {
    const { backend, admission } = await setup();
    backend.autoComplete = 'succeed';
    const held = await admission.createSession({ userId: 'alice', idempotencyKey: 'k' });
    await expect(
      admission.createSession({ userId: 'mallory', idempotencyKey: 'k' }),
    ).rejects.toMatchObject({
      name: 'AdmissionError',
      code: 'duplicate',
      sessionId: held.id,
    });
  });

  it('one caller giving up does not abort the creation the others wait for; all giving up does', async () => {
    const { backend, admission } = await setup();
    const config = { userId: 'caller', idempotencyKey: 'job-3' };
    const c1 = new AbortController();
    const c2 = new AbortController();
    const first = admission.createSession(config, { signal: c1.signal });
    const second = admission.createSession(config, { signal: c2.signal });
    await flush();
    c1.abort();
    await expect(first).rejects.toMatchObject({ code: 'aborted' });
    await flush();
    expect(backend.pending.size).toBe(1);
    [...backend.pending.values()][0]!.succeed();
    const session = await second;
    expect(session.state).toBe('active');
    await session.close();
    await flush();

    const c3 = new AbortController();
    const c4 = new AbortController();
    const third = admission.createSession(config, { signal: c3.signal });
    const fourth = admission.createSession(config, { signal: c4.signal });
    await flush();
    c3.abort();
    c4.abort();
    await expect(third).rejects.toMatchObject({ code: 'aborted' });
    await expect(fourth).rejects.toMatchObject({ code: 'aborted' });
    await flush();
    expect(backend.pending.size).toBe(0);
    expect(backend.open).toBe(0);
    expect(admission.active).toBe(0);
  });
  /** An admission of one slot, taken: the next creates queue. */
  async function oneSlotTaken() {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      queue: { maxSize: 10 },
      health: false,
    });
    const blocker = await admission.createSession({ userId: 'other' });
    return { backend, admission, blocker };
  }
  it("a retry keeps its own queue bound: the first caller's running out does not refuse it", async () => {
    const { backend, admission, blocker } = await oneSlotTaken();
    const config = { userId: 'caller', idempotencyKey: 'job-5' };
    const first = admission.createSession(config, { timeoutMs: 30 });
    const retried = admission.createSession(config, { timeoutMs: 5_000 });
    await expect(first).rejects.toMatchObject({ code: 'queue_timeout' });
    await blocker.close();
    const session = await retried;
    expect(session.state).toBe('active');
    // The key still leads to it, and only one session was made for it.
    await expect(admission.createSession(config)).resolves.toBe(session);
    expect(backend.setupsStarted).toBe(2);
  });
  it("a retry's shorter queue bound refuses it in time, while the request it joined waits on", async () => {
    const { admission, blocker } = await oneSlotTaken();
    const config = { userId: 'caller', idempotencyKey: 'job-6' };
    const first = admission.createSession(config, { timeoutMs: 5_000 });
    const started = performance.now();
    await expect(admission.createSession(config, { timeoutMs: 30 })).rejects.toMatchObject({
      code: 'queue_timeout',
    });
    expect(performance.now() - started).toBeLessThan(1_000);
    await blocker.close();
    await expect(first).resolves.toMatchObject({ state: 'active' });
  });
  it('a retry joining a request that would not wait (timeoutMs 0) still waits by its own bound', async () => {
    const { backend, admission, blocker } = await oneSlotTaken();
    const config = { userId: 'caller', idempotencyKey: 'job-7' };
    const first = admission.createSession(config, { timeoutMs: 0 });
    const retried = admission.createSession(config, { timeoutMs: 5_000 });
    await expect(first).rejects.toMatchObject({ code: 'capacity' });
    await blocker.close();
    await expect(retried).resolves.toMatchObject({ state: 'active' });
    expect(backend.setupsStarted).toBe(2);
  });
  it('a retry waiting for an abandoned creation of its key to finish is refused at its own bound', async () => {
    // A create that ignores its abort signal and settles only much later.
    const backend = new HostileBackend();
    backend.plan = () => ({ settleMs: 60_000, outcome: 'succeed', onAbort: 'ignore', closeMs: 0 });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 5,
      queue: { maxSize: 10, timeoutMs: 60_000 },
      health: false,
    });
    const config = { userId: 'caller', idempotencyKey: 'job-8' };
    const gone = new AbortController();
    const first = admission.createSession(config, { signal: gone.signal });
    await flush();
    gone.abort();
    await expect(first).rejects.toMatchObject({ code: 'aborted' });
    // Its create goes on: the key stays taken, and each retry waits no longer than it asked.
    await expect(admission.createSession(config, { timeoutMs: 30 })).rejects.toMatchObject({
      code: 'queue_timeout',
    });
    await expect(admission.createSession(config, { timeoutMs: 0 })).rejects.toMatchObject({
      code: 'queue_timeout',
    });
    expect(backend.creates).toBe(1);
    expect(backend.open).toBe(1);
  });
  it('a key is free for a retry that will not wait (timeoutMs 0) once close() has resolved', async () => {
    const { backend, admission } = await setup();
    backend.autoComplete = 'succeed';
    const config = { userId: 'caller', idempotencyKey: 'job-9' };
    const session = await admission.createSession(config);
    await session.close();
    const next = await admission.createSession(config, { timeoutMs: 0 });
    expect(next).not.toBe(session);
    expect(backend.setupsStarted).toBe(2);
  });
  it('a retry joins the live session of a backend whose sessions have no state, until it closes', async () => {
    const backend = statelessBackend();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 5,
      queue: { maxSize: 10, timeoutMs: 60_000 },
      health: false,
    });
    const config = { userId: 'caller', idempotencyKey: 'job-10' };
    const session = await admission.createSession(config);
    const retried = track(admission.createSession(config));
    await flush();
    expect(retried.result).toEqual({ status: 'fulfilled', value: session });
    expect(backend.creates).toBe(1);
    expect(admission.active).toBe(1);
    // Once it has closed, the key makes a new session.
    await session.close();
    const next = await admission.createSession(config, { timeoutMs: 0 });
    expect(next).not.toBe(session);
    expect(backend.creates).toBe(2);
    await next.close();
  });
  it('a session without state that admission closes (drain) is not handed to a retry', async () => {
    const backend = statelessBackend();
    const admission = new Admission(backend, { maxConcurrentSessions: 5, health: false });
    const config = { userId: 'caller', idempotencyKey: 'job-11' };
    const session = await admission.createSession(config);
    // Its close starts and never reports an end.
    let asked = (): void => undefined;
    const closeAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    Object.assign(session, {
      close: () => {
        asked();
        return new Promise<never>(() => undefined);
      },
    });
    const drained = admission.drain({ timeoutMs: 0, closeTimeoutMs: 50 });
    await closeAsked;
    await expect(admission.createSession(config)).rejects.toMatchObject({ code: 'draining' });
    await drained;
  });
});

import { describe, expect, it } from 'vitest';
import {
  BaseBackend,
  type OpenedSession,
  type OpenSessionRequest,
} from '../../src/backend/base-backend.js';
import { BackendError } from '../../src/iface/errors.js';
import type { ConnectionInfo } from '../../src/iface/session.js';
import { type LendingCallOptions, lentController } from '../../src/internal/abort.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush, settle } from '../support/flush.js';

describe('BaseBackend lifecycle and bookkeeping', () => {
  it('refuses creates before start and after stop with a clear error', async () => {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await expect(backend.createSession({ userId: 'u' })).rejects.toMatchObject({
      code: 'not_started',
    });
    await backend.start();
    await backend.start();
    expect(backend.state).toBe('running');
    await backend.createSession({ userId: 'u' });
    await backend.stop();
    expect(backend.state).toBe('stopped');
    await expect(backend.createSession({ userId: 'u' })).rejects.toThrow(
      /controlled backend is stopped/,
    );
    await expect(backend.start()).rejects.toMatchObject({ code: 'stopped', op: 'start' });
    expect(backend.open).toBe(0);
  });

  it('has one source of truth for the active count and settles closed exactly once, whichever end comes first', async () => {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const a = await backend.createSession({ userId: 'a', tenantId: 't' });
    const b = await backend.createSession({ userId: 'b' });
    expect(backend.getActiveSessionCount()).toBe(2);
    expect(backend.getSession(a.id)).toBe(a);
    expect(backend.listSessions()).toEqual([a, b]);
    expect(a).toMatchObject({
      tenantId: 't',
      userId: 'a',
      provider: 'controlled',
      state: 'active',
    });
    expect(b.tenantId).toBe('default');

    let settled = 0;
    void a.closed.then(() => settled++);
    const closing = a.close();
    expect(a.state).toBe('closing');
    backend.endFromServer(a.id); // the server's end arrives while the close is under way
    const end = await closing;
    await flush();
    expect(settled).toBe(1);
    expect(await a.closed).toBe(end);
    expect(await a.close()).toBe(end);
    expect(backend.getActiveSessionCount()).toBe(1);
    expect(backend.getSession(a.id)).toBeUndefined();
    expect(backend.teardowns).toBe(1);
  });

  it('reports a teardown failure on the end it settles with, and still counts the session closed', async () => {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const session = await backend.createSession({ userId: 'u' });
    backend.teardownError = new Error('room service unreachable');
    const end = await session.close();
    expect(end.reason).toBe('closed');
    expect(end.error).toBeInstanceOf(BackendError);
    expect(end.error).toMatchObject({ code: 'internal', op: 'close_session' });
    expect(end.error?.message).toContain('room service unreachable');
    expect(session.state).toBe('closed');
    expect(backend.getActiveSessionCount()).toBe(0);
  });

  it('settles a close whose teardown throws instead of rejecting, and still stops', async () => {
    const backend = new SyncThrowingTeardownBackend();
    await backend.start();
    const closedByHand = await backend.createSession({ userId: 'a' });
    const end = await closedByHand.close();
    expect(end.error).toMatchObject({ code: 'internal', op: 'close_session' });
    expect(end.error?.message).toContain('room service client not configured');
    expect(closedByHand.state).toBe('closed');
    expect(await closedByHand.close()).toBe(end);
    await backend.createSession({ userId: 'b' });
    await backend.stop();
    expect(backend.state).toBe('stopped');
    expect(backend.getActiveSessionCount()).toBe(0);
  });

  it('refuses a session id already in use, before any provider work, so no session is lost to stop()', async () => {
    const backend = new FixedIdBackend('room-1');
    await backend.start();
    const first = backend.createSession({ userId: 'a' });
    // A second create while the first is under way, then once it is open.
    await expect(backend.createSession({ userId: 'b' })).rejects.toMatchObject({
      code: 'internal',
      op: 'create_session',
      message: expect.stringContaining('newSessionId() returned "room-1"'),
    });
    const session = await first;
    await expect(backend.createSession({ userId: 'c' })).rejects.toMatchObject({
      code: 'internal',
    });
    expect(backend.opened).toBe(1);
    expect(backend.getSession('room-1')).toBe(session);
    await backend.stop();
    expect(session.state).toBe('closed');
    expect(backend.open).toBe(0);
  });

  it('refuses what openSession hands back that is not an OpenedSession, naming what it got', async () => {
    const backend = new ResolvingBackend();
    await backend.start();
    for (const resolved of [undefined, null, {}, { connection: CONNECTION }]) {
      backend.resolves = resolved;
      await expect(backend.createSession({ userId: 'u' })).rejects.toMatchObject({
        name: 'BackendError',
        code: 'internal',
        op: 'create_session',
        message: expect.stringMatching(
          /^openSession resolved with .+, not an OpenedSession \(connection, teardown\)$/,
        ),
      });
    }
    expect(backend.getActiveSessionCount()).toBe(0);
  });

  it('reports a failing provider shutdown as a BackendError of stop(), and ends stopped', async () => {
    const backend = new FailingStopBackend();
    await backend.start();
    const session = await backend.createSession({ userId: 'u' });
    const failure = await backend.stop().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BackendError);
    expect(failure).toMatchObject({
      code: 'internal',
      op: 'stop',
      message: 'stop failed: media client would not disconnect',
    });
    expect(backend.state).toBe('stopped');
    expect(session.state).toBe('closed');
    await expect(backend.stop()).rejects.toBe(failure);
  });

  it('does not leak the caller token through JSON or inspection', async () => {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const session = await backend.createSession({ userId: 'u' });
    const { inspect } = await import('node:util');
    expect(JSON.stringify(session)).not.toContain(session.connection.token);
    expect(inspect(session)).not.toContain(session.connection.token);
    expect(JSON.parse(JSON.stringify(session)).connection.roomName).toBe(
      session.connection.roomName,
    );
  });

  it('health: unhealthy when not running, the probe result when running', async () => {
    const backend = new ControlledBackend();
    expect(await backend.healthCheck()).toMatchObject({
      healthy: false,
      status: 'unhealthy',
      reason: 'backend is created',
    });
    await backend.start();
    const status = await backend.healthCheck();
    expect(status).toMatchObject({ healthy: true, status: 'healthy' });
    expect(status.latencyMs).toBeGreaterThanOrEqual(0);
    const controller = new AbortController();
    controller.abort();
    await expect(backend.healthCheck({ signal: controller.signal })).rejects.toBeInstanceOf(
      BackendError,
    );
  });
});

/** A provider that cannot cancel a create in flight (like an HTTP call): it finishes, then is undone. */
class UncancellableBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'uncancellable';
  open = 0;
  constructor() {
    super({});
  }
  protected async openSession(): Promise<OpenedSession<ConnectionInfo>> {
    this.open++;
    await settle(2);
    return {
      connection: { url: 'test://', roomName: 'r', token: 't' },
      teardown: async () => {
        await flush();
        this.open--;
      },
    };
  }
  protected async probeHealth(): Promise<{ healthy: true; status: 'healthy' }> {
    return { healthy: true, status: 'healthy' };
  }
}

/** A provider whose teardown, typed as returning a promise, throws before it returns one. */
class SyncThrowingTeardownBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'sync-throwing-teardown';
  constructor() {
    super({});
  }
  protected async openSession({ id }: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    return {
      connection: { url: 'ws://localhost', roomName: id, token: 'token' },
      teardown: (): Promise<void> => {
        throw new Error('room service client not configured');
      },
    };
  }
  protected async probeHealth(): Promise<{ healthy: true; status: 'healthy' }> {
    return { healthy: true, status: 'healthy' };
  }
}

/** A provider that gives every session the same id, as a careless `newSessionId` would. */
class FixedIdBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'fixed-id';
  opened = 0;
  open = 0;
  readonly #id: string;
  constructor(id: string) {
    super({});
    this.#id = id;
  }
  protected override newSessionId(): string {
    return this.#id;
  }
  protected async openSession({ id }: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    this.opened++;
    this.open++;
    await flush();
    return {
      connection: { url: 'ws://localhost', roomName: id, token: 'token' },
      teardown: async () => {
        this.open--;
      },
    };
  }
  protected async probeHealth(): Promise<{ healthy: true; status: 'healthy' }> {
    return { healthy: true, status: 'healthy' };
  }
}

const CONNECTION: ConnectionInfo = { url: 'ws://localhost', roomName: 'room', token: 'token' };

/** A provider whose openSession resolves with whatever a test sets. */
class ResolvingBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'resolving';
  resolves: unknown;
  constructor() {
    super({});
  }
  protected async openSession(): Promise<OpenedSession<ConnectionInfo>> {
    return this.resolves as OpenedSession<ConnectionInfo>;
  }
  protected async probeHealth(): Promise<{ healthy: true; status: 'healthy' }> {
    return { healthy: true, status: 'healthy' };
  }
}

/** A provider whose own shutdown work fails. */
class FailingStopBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'failing-stop';
  constructor() {
    super({});
  }
  protected async openSession({ id }: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    return { connection: { ...CONNECTION, roomName: id }, teardown: async () => undefined };
  }
  protected async probeHealth(): Promise<{ healthy: true; status: 'healthy' }> {
    return { healthy: true, status: 'healthy' };
  }
  protected override async onStop(): Promise<void> {
    throw new Error('media client would not disconnect');
  }
}

describe('BaseBackend stop() with creates under way', () => {
  it('aborts them and returns only once their provider work is undone', async () => {
    const backend = new UncancellableBackend();
    await backend.start();
    const pending = backend.createSession({ userId: 'u' }).catch((e: unknown) => e);
    await flush();
    expect(backend.open).toBe(1);
    await backend.stop();
    expect(backend.open).toBe(0);
    expect(await pending).toMatchObject({ code: 'stopped' });
    expect(backend.getActiveSessionCount()).toBe(0);
  });
});

/** A provider whose creates wait until aborted, recording the signal each one was given. */
class HangingBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'hanging';
  readonly signals: AbortSignal[] = [];
  constructor() {
    super({});
  }
  protected openSession({ signal }: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    this.signals.push(signal);
    return new Promise((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  protected async probeHealth(): Promise<{ healthy: true; status: 'healthy' }> {
    return { healthy: true, status: 'healthy' };
  }
}

describe('BaseBackend with a controller lent beside the signal', () => {
  const lending = (controller: AbortController): LendingCallOptions => ({
    signal: controller.signal,
    [lentController]: controller,
  });

  it('hands the lent signal itself to the provider and aborts it on stop', async () => {
    const backend = new HangingBackend();
    await backend.start();
    const controller = new AbortController();
    const pending = backend.createSession({ userId: 'u' }, lending(controller)).catch((e) => e);
    await flush();
    expect(backend.signals).toEqual([controller.signal]);
    await backend.stop();
    expect(controller.signal.reason).toMatchObject({ code: 'stopped' });
    expect(await pending).toBe(controller.signal.reason);
  });

  it('links a signal that replaced the lent one and leaves the lent controller alone', async () => {
    const backend = new HangingBackend();
    await backend.start();
    const lent = new AbortController();
    // A wrapper that copies the options with a signal of its own.
    const copied = (own: AbortController) => ({ ...lending(lent), signal: own.signal });
    const own = new AbortController();
    const first = backend.createSession({ userId: 'a' }, copied(own)).catch((e) => e);
    await flush();
    expect(backend.signals[0]).not.toBe(lent.signal);
    own.abort(new Error('caller gave up'));
    expect(await first).toMatchObject({ code: 'aborted' });

    const second = backend
      .createSession({ userId: 'b' }, copied(new AbortController()))
      .catch((e) => e);
    await flush();
    await backend.stop();
    expect(await second).toMatchObject({ code: 'stopped' });
    expect(lent.signal.aborted).toBe(false);
  });
});

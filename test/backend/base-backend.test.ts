import { describe, expect, it } from 'vitest';
import { BackendError } from '../../src/iface/errors.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush } from '../support/flush.js';

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

import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { BackendError } from '../../../src/iface/errors.js';
import {
  API_KEY,
  API_SECRET,
  eventually,
  liveKitBackend,
  onCleanup,
  startedBackend,
  startStandIn,
} from './fixture.js';

/** An HTTPS server on loopback whose certificate nobody trusts; counts the requests it gets. */
async function startUntrustedTls(): Promise<{ readonly wsUrl: string; requests(): number }> {
  const tls = new URL('../../support/tls/', import.meta.url);
  let requests = 0;
  const server = createServer(
    {
      key: readFileSync(new URL('self-signed.key', tls)),
      cert: readFileSync(new URL('self-signed.crt', tls)),
    },
    (_request, response) => {
      requests++;
      response.end('{}');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;
  return { wsUrl: `wss://127.0.0.1:${port}`, requests: () => requests };
}

describe('LiveKit provider: a failed create leaves nothing behind', () => {
  it('a 5xx from CreateRoom (the room may exist) deletes the room and frees the slot (-> unavailable)', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    standIn.inject({ methods: ['CreateRoom'], error: 'internal', times: 1 });

    const error = await admission.createSession({ userId: 'u' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'unavailable', op: 'create_session', provider: 'livekit' });
    expect((error as Error).message).toMatch(/^LiveKit CreateRoom failed: 500 internal/);
    expect(standIn.roomNames()).toEqual([]);
    expect(standIn.calls('RoomService/DeleteRoom')).toBe(1);
    expect(admission.active).toBe(0);
    // The slot really is free: the next create gets it.
    await expect(admission.createSession({ userId: 'u' })).resolves.toMatchObject({
      state: 'active',
    });
  });

  it('maps 429 to resource_exhausted, and does not delete a room the server refused to create', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    standIn.inject({ methods: ['CreateRoom'], error: 'resource_exhausted', times: 1 });
    await expect(backend.createSession({ userId: 'u' })).rejects.toMatchObject({
      code: 'resource_exhausted',
    });
    expect(standIn.calls('RoomService/DeleteRoom')).toBe(0);
    expect(standIn.roomNames()).toEqual([]);
    expect(backend.getActiveSessionCount()).toBe(0);
  });

  it('maps refused credentials to unauthenticated and an unreachable server to unavailable', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    standIn.setKeys({ [API_KEY]: 'another-secret-entirely-0123456789' });
    await expect(backend.createSession({ userId: 'u' })).rejects.toMatchObject({
      code: 'unauthenticated',
      message: expect.stringMatching(
        /^LiveKit CreateRoom failed: 401: invalid token: \[redacted\], error: /,
      ),
    });
    await standIn.goDown();
    const error = await backend.createSession({ userId: 'u' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unavailable' });
    expect((error as Error).message).toMatch(/^LiveKit CreateRoom failed: server unreachable/);
  });

  it('a server whose TLS certificate is not trusted: the create fails at once saying so, frees its slot, and waits for no room (no request was sent)', async () => {
    const server = await startUntrustedTls();
    const backend = await startedBackend({ ...server, apiKey: API_KEY, apiSecret: API_SECRET });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });

    const error = await admission.createSession({ userId: 'u' }).catch((e: unknown) => e);
    const untrusted =
      'sent a TLS certificate this process does not trust (DEPTH_ZERO_SELF_SIGNED_CERT): trust its CA with NODE_EXTRA_CA_CERTS, or give it a certificate from a trusted CA';
    expect(error).toMatchObject({
      code: 'unavailable',
      op: 'create_session',
      message: `LiveKit CreateRoom failed: server ${untrusted}`,
    });
    expect(admission.active).toBe(0);
    expect(server.requests()).toBe(0);
    const health = await backend.healthCheck();
    expect(health).toMatchObject({ healthy: false, status: 'unhealthy' });
    expect(health.reason).toContain(`GET / failed: server ${untrusted}`);
  });

  it('maps a request timeout to timeout, and deletes the room if the late create lands', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, {
      requestTimeoutMs: 1_000,
      reconcile: { intervalMs: 3_600_000 },
    });
    // The server is slow: it creates the room only after the client gave up.
    let answer = (): void => undefined;
    const heldUntil = new Promise<void>((resolve) => {
      answer = resolve;
    });
    standIn.inject({ methods: ['CreateRoom'], heldUntil, times: 1 });
    await expect(backend.createSession({ userId: 'u' })).rejects.toMatchObject({
      code: 'timeout',
      message: 'LiveKit CreateRoom failed: server timed out',
    });
    answer();
    await eventually(() => standIn.roomNames().length === 1);
    const [late] = standIn.roomNames();
    // Reconciliation deletes the room that landed after the failed create.
    const report = await backend.reconcile();
    expect(report.deleted).toEqual([late]);
    expect(standIn.roomNames()).toEqual([]);
    expect(report.untracked).toEqual([]);
  });

  it('without reconciliation, forgets a room whose CreateRoom timed out once it is known gone', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { requestTimeoutMs: 500, reconcile: false });
    let answer = (): void => undefined;
    const heldUntil = new Promise<void>((resolve) => {
      answer = resolve;
    });
    standIn.inject({ methods: ['CreateRoom'], heldUntil, times: 1 });
    await expect(backend.createSession({ userId: 'u' })).rejects.toMatchObject({ code: 'timeout' });
    answer();
    await eventually(() => standIn.roomNames().length === 1);
    // No record is kept for a reconciliation that never runs: a pass run by hand sees the room
    // that landed after all as one it does not own.
    const report = await backend.reconcile();
    expect(report.deleted).toEqual([]);
    expect(report.untracked).toEqual(standIn.roomNames());
  });

  it('an abort during setup waits for the call in flight, then deletes the room', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    standIn.inject({ methods: ['CreateRoom'], latencyMs: 150, times: 1 });
    const controller = new AbortController();
    const create = backend.createSession({ userId: 'u' }, { signal: controller.signal });
    await eventually(() => standIn.calls('RoomService/CreateRoom') === 1);
    controller.abort();
    await expect(create).rejects.toMatchObject({ code: 'aborted' });
    // By the time the create rejected, the room it made was gone again.
    expect(standIn.roomNames()).toEqual([]);
    expect(standIn.calls('AgentDispatchService/CreateDispatch')).toBe(0);
  });
});

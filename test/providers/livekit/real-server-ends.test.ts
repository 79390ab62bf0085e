import { expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import type { LiveKitBackend, LiveKitBackendEvents } from '../../../src/index.js';
import { describeWithLiveKitServer } from '../../support/livekit-server.js';
import { startWebhookSink } from './fixture.js';
import { joinAsCaller, realBackend, startRealServer } from './real-fixture.js';

/** The next `event` the backend emits. */
function next<K extends keyof LiveKitBackendEvents>(
  backend: LiveKitBackend,
  event: K,
): Promise<LiveKitBackendEvents[K]> {
  return new Promise((resolve) => {
    const off = backend.on(event, (payload) => {
      off();
      resolve(payload);
    });
  });
}

describeWithLiveKitServer('LiveKit provider on the real server: rooms the server ends', () => {
  it('nobody joined: the room ends at its emptyTimeout, the signed room_finished webhook frees the slot (reconciliation off)', async () => {
    const sink = await startWebhookSink();
    const real = await startRealServer({ webhookUrls: [sink.url] });
    const backend = await realBackend(real, { emptyTimeout: 1 });
    sink.use(backend.webhookHandler);
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const ended = next(backend, 'room_ended');
    const session = await admission.createSession({ userId: 'never-joins' });

    expect((await session.closed).reason).toBe('remote_ended');
    expect(await ended).toEqual({
      sessionId: session.id,
      roomName: session.connection.roomName,
      via: 'webhook',
    });
    expect(admission.active).toBe(0);
    expect(await real.roomNames()).toEqual([]);
  });

  it('the caller joined then left: the room ends at its departureTimeout, the webhook frees the slot', async () => {
    const sink = await startWebhookSink();
    const real = await startRealServer({ webhookUrls: [sink.url] });
    const backend = await realBackend(real, { emptyTimeout: 60, departureTimeout: 1 });
    sink.use(backend.webhookHandler);
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const session = await admission.createSession({ userId: 'caller' });
    const caller = await joinAsCaller(session);
    expect(session.state).toBe('active');
    await caller.leave();

    expect((await session.closed).reason).toBe('remote_ended');
    expect(admission.active).toBe(0);
  });

  it('the room ends while its session waits for its agent: its room_finished fails the create at the next poll, the slot is released once', async () => {
    const sink = await startWebhookSink();
    const real = await startRealServer({ webhookUrls: [sink.url] });
    const backend = await realBackend(real, {
      emptyTimeout: 1,
      awaitAgent: { timeoutMs: 10_000, pollIntervalMs: 100 },
    });
    sink.use(backend.webhookHandler);
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const released: number[] = [];
    admission.on('released', ({ active }) => released.push(active));

    // No worker takes the dispatch: nobody joins, and the room ends at its emptyTimeout.
    const error = await admission.createSession({ userId: 'never-joins' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'setup_failed', op: 'create_session' });
    expect((error as Error).message).toMatch(
      /^room va-.* finished on the server while the session was being created$/,
    );
    expect(released).toEqual([0]);
    expect(await real.roomNames()).toEqual([]);
  });

  it('webhooks off: reconciliation notices the room the server ended and frees the slot', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, { emptyTimeout: 1, reconcile: { intervalMs: 200 } });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const ended = next(backend, 'room_ended');
    const session = await admission.createSession({ userId: 'never-joins' });

    expect((await session.closed).reason).toBe('remote_ended');
    expect((await ended).via).toBe('reconcile');
    expect(admission.active).toBe(0);
  });

  it('webhooks signed with another key than the provider’s are refused and change nothing (the keys must match)', async () => {
    const sink = await startWebhookSink();
    const keys = { APIprovider: 'p'.repeat(40), APIwebhooks: 'w'.repeat(40) };
    const real = await startRealServer({
      keys,
      webhookApiKey: 'APIwebhooks',
      webhookUrls: [sink.url],
    });
    const backend = await realBackend(real, { emptyTimeout: 60 });
    sink.use(backend.webhookHandler);
    const refused = next(backend, 'webhook_refused');
    const session = await backend.createSession({ userId: 'caller' });

    // room_started, signed by the server with APIwebhooks' secret.
    const { error } = await refused;
    expect(error).toMatchObject({ code: 'unauthenticated', op: 'webhook' });
    expect(error.message).toBe(
      'webhook refused: signed with API key "APIwebhooks", not ours: the server\'s webhook.api_key must be this provider\'s apiKey',
    );
    expect(session.state).toBe('active');
  });
});

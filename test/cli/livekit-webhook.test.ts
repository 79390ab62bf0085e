import { describe, expect, it } from 'vitest';
import { API_SECRET, liveKitBackend, startStandIn } from '../providers/livekit/fixture.js';
import { ACME_TOKEN, startGateway, TOKENS } from './gateway-harness.js';

describe('POST /webhooks/livekit', () => {
  it('passes the raw body to the verifier: a signed room_finished ends the session, a forged one is 401', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const { call, logs } = await startGateway({
      backend,
      tokens: TOKENS,
      livekitWebhook: (request) => backend.handleWebhook(request),
    });
    const created = await call('POST', '/v1/sessions', {
      body: { userId: 'u' },
      token: ACME_TOKEN,
    });
    expect(created.status).toBe(201);
    const session = (await created.json()) as { id: string; connection: { roomName: string } };
    const finished = standIn.webhookBody('room_finished', session.connection.roomName);
    const send = (authorization: string) =>
      call('POST', '/webhooks/livekit', {
        body: finished,
        headers: { 'content-type': 'application/webhook+json', authorization },
      });

    const forged = await send(standIn.signWebhook(finished, { secret: `${API_SECRET}-not` }));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    expect(backend.getSession(session.id)?.state).toBe('active');

    const genuine = await send(standIn.signWebhook(finished));
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toEqual({
      event: 'room_finished',
      roomName: session.connection.roomName,
      sessionId: session.id,
      action: 'ended',
    });
    expect(backend.getSession(session.id)).toBeUndefined();
    expect(logs.text).not.toContain(API_SECRET);
  });
});

import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { API_SECRET, liveKitBackend, startStandIn } from '../providers/livekit/fixture.js';
import { ACME_TOKEN, startGateway, TOKENS } from './gateway-harness.js';

/** A gateway over a LiveKit backend on the stand-in, with the webhook route. */
async function gatewayWithWebhooks() {
  const standIn = await startStandIn();
  const backend = await liveKitBackend(standIn);
  const { call, logs } = await startGateway({
    backend,
    tokens: TOKENS,
    livekitWebhook: (request) => backend.handleWebhook(request),
  });
  return { standIn, backend, call, logs };
}

describe('POST /webhooks/livekit', () => {
  it('passes the raw body to the verifier: a signed room_finished ends the session, a forged one is 401', async () => {
    const { standIn, backend, call, logs } = await gatewayWithWebhooks();
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

  it("takes a signed room_finished carrying the room's metadata, past the /v1 body limit", async () => {
    const { standIn, backend, call } = await gatewayWithWebhooks();
    // Metadata the create body may carry becomes the room's metadata, a JSON string inside
    // the webhook's JSON: escaped twice over, it outgrows the 16 KiB a create body may take.
    const created = await call('POST', '/v1/sessions', {
      body: { userId: 'u', metadata: { quotes: '"'.repeat(7_000) } },
      token: ACME_TOKEN,
    });
    expect(created.status).toBe(201);
    const session = (await created.json()) as { id: string; connection: { roomName: string } };
    const finished = standIn.webhookBody('room_finished', session.connection.roomName);
    expect(finished.length).toBeGreaterThan(16_384);

    const response = await call('POST', '/webhooks/livekit', {
      body: finished,
      headers: {
        'content-type': 'application/webhook+json',
        authorization: standIn.signWebhook(finished),
      },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sessionId: session.id, action: 'ended' });
    expect(backend.getSession(session.id)).toBeUndefined();

    const oversized = await call('POST', '/webhooks/livekit', {
      body: 'x'.repeat(1_048_577),
      headers: { 'content-type': 'application/webhook+json', authorization: 'x' },
    });
    expect(oversized.status).toBe(413);
    expect(await oversized.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('answers as the OpenAPI document says, whatever the action: ended, ignored, deleted', async () => {
    const { standIn, call } = await gatewayWithWebhooks();
    const document = (await (await call('GET', '/openapi.json')).json()) as {
      paths: Record<string, { post: { responses: Record<string, { content: object }> } }>;
    };
    const { schema } = (
      document.paths['/webhooks/livekit']!.post.responses['200']!.content as Record<
        string,
        { schema: object }
      >
    )['application/json']!;
    const documented = new Ajv2020({ strict: false }).compile(schema);
    const deliver = async (body: string): Promise<unknown> => {
      const response = await call('POST', '/webhooks/livekit', {
        body,
        headers: {
          'content-type': 'application/webhook+json',
          authorization: standIn.signWebhook(body),
        },
      });
      expect(response.status).toBe(200);
      const outcome: unknown = await response.json();
      expect(documented(outcome), JSON.stringify(outcome)).toBe(true);
      return outcome;
    };

    const open = async (userId: string) => {
      const created = await call('POST', '/v1/sessions', { body: { userId }, token: ACME_TOKEN });
      return (await created.json()) as { id: string; connection: { roomName: string } };
    };
    const ended = await open('u1');
    const finished = standIn.webhookBody('room_finished', ended.connection.roomName);
    expect(await deliver(finished)).toMatchObject({ action: 'ended' });
    expect(await deliver(finished)).toMatchObject({ action: 'ignored' });
    // The caller's still valid token re-creates a closed session's room (a new sid): deleted.
    const closed = await open('u2');
    const deleted = await call('DELETE', `/v1/sessions/${closed.id}`, { token: ACME_TOKEN });
    expect(deleted.status).toBe(200);
    standIn.addRoom(closed.connection.roomName);
    const recreated = standIn.webhookBody('room_started', closed.connection.roomName);
    expect(await deliver(recreated)).toMatchObject({ action: 'deleted' });
  });
});

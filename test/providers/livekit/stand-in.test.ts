import { createHash } from 'node:crypto';
import {
  AccessToken,
  AgentDispatchClient,
  RoomServiceClient,
  WebhookReceiver,
} from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { signJwt } from '../../support/livekit-stand-in/jwt.js';
import { API_KEY, API_SECRET, startStandIn, startWebhookSink } from './fixture.js';

/** The stand-in answers livekit-server-sdk the way a LiveKit server does. */
describe('LiveKit stand-in (test double) against livekit-server-sdk', () => {
  it('creates, lists and deletes rooms; CreateRoom is get-or-create; a missing room is not_found', async () => {
    const standIn = await startStandIn();
    const rooms = new RoomServiceClient(standIn.wsUrl, API_KEY, API_SECRET);
    const created = await rooms.createRoom({ name: 'r1', emptyTimeout: 30, metadata: '{"a":1}' });
    expect(created).toMatchObject({ name: 'r1', emptyTimeout: 30, departureTimeout: 20 });
    expect(created.sid).toMatch(/^RM_/);
    const again = await rooms.createRoom({ name: 'r1' });
    expect(again.sid).toBe(created.sid);
    expect((await rooms.listRooms()).map((r) => r.name)).toEqual(['r1']);
    expect(await rooms.listRooms(['nope'])).toEqual([]);
    await rooms.deleteRoom('r1');
    await expect(rooms.deleteRoom('r1')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'requested room does not exist',
    });
  });

  it('refuses bad credentials in plain text before Twirp, as the auth middleware does', async () => {
    const standIn = await startStandIn();
    const wrongSecret = new RoomServiceClient(standIn.url, API_KEY, `${API_SECRET}-wrong`);
    const error = await wrongSecret.listRooms().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, code: undefined });
    expect((error as Error).message).toMatch(
      /^invalid token: eyJ[\w-]+\.[\w-]+\.[\w-]+, error: token signature is invalid: signature is invalid$/,
    );
    const unknownKey = new RoomServiceClient(standIn.url, 'APIother', API_SECRET);
    await expect(unknownKey.listRooms()).rejects.toMatchObject({
      status: 401,
      message: 'invalid API key: APIother',
    });
  });

  it('checks grants per call: a join token cannot list, and admin is per room', async () => {
    const standIn = await startStandIn();
    const joinOnly = new AccessToken(API_KEY, API_SECRET, { identity: 'caller' });
    joinOnly.addGrant({ roomJoin: true, room: 'r1' });
    const asCaller = new RoomServiceClient(standIn.url, undefined, undefined, {
      token: await joinOnly.toJwt(),
    });
    await expect(asCaller.listRooms()).rejects.toMatchObject({
      status: 401,
      code: 'unauthenticated',
      message: 'permissions denied',
    });
    await expect(asCaller.createRoom({ name: 'x' })).rejects.toMatchObject({
      code: 'unauthenticated',
    });

    const adminOfR1 = new AccessToken(API_KEY, API_SECRET);
    adminOfR1.addGrant({ roomAdmin: true, room: 'r1' });
    const dispatch = new AgentDispatchClient(standIn.url, undefined, undefined, {
      token: await adminOfR1.toJwt(),
    });
    await expect(dispatch.listDispatch('r2')).rejects.toMatchObject({
      code: 'unauthenticated',
    });
  });

  it('refuses expired tokens and tokens not signed with HS256', async () => {
    const standIn = await startStandIn();
    const now = Math.floor(Date.now() / 1000);
    const grant = { video: { roomList: true } };
    const expired = signJwt({ iss: API_KEY, exp: now - 61, ...grant }, API_SECRET);
    const noExp = signJwt({ iss: API_KEY, ...grant }, API_SECRET);
    const wrongAlg = signJwt({ iss: API_KEY, exp: now + 60, ...grant }, API_SECRET, 'HS512');
    const withLeeway = signJwt({ iss: API_KEY, exp: now - 30, ...grant }, API_SECRET);
    const list = (token: string) =>
      new RoomServiceClient(standIn.url, undefined, undefined, { token }).listRooms();
    await expect(list(expired)).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(
        /^invalid token: .*, error: token has invalid claims: token is expired$/,
      ),
    });
    await expect(list(noExp)).rejects.toMatchObject({ status: 401 });
    await expect(list(wrongAlg)).rejects.toMatchObject({ status: 401 });
    await expect(list(withLeeway)).resolves.toEqual([]);
  });

  it('dispatches agents with metadata, auto-creating the room, and lists and deletes them', async () => {
    const standIn = await startStandIn();
    const dispatch = new AgentDispatchClient(standIn.url, API_KEY, API_SECRET);
    const created = await dispatch.createDispatch('r9', 'intake', { metadata: '{"k":"v"}' });
    expect(created).toMatchObject({ agentName: 'intake', room: 'r9', metadata: '{"k":"v"}' });
    expect(standIn.roomNames()).toEqual(['r9']);
    // The auto-created room has the server's automatic dispatch (empty agent name) too.
    expect((await dispatch.listDispatch('r9')).map((d) => d.agentName).sort()).toEqual([
      '',
      'intake',
    ]);
    await dispatch.deleteDispatch(created.id, 'r9');
    await expect(dispatch.deleteDispatch(created.id, 'r9')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'dispatch ID not found',
    });
    await expect(dispatch.listDispatch('missing')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('answers Twirp routing errors as Twirp does', async () => {
    const standIn = await startStandIn();
    const post = (path: string, init: RequestInit = {}) =>
      fetch(`${standIn.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
        ...init,
      });
    const unknown = await post('/twirp/livekit.RoomService/Nope');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/json');
    expect(await unknown.json()).toEqual({
      code: 'bad_route',
      msg: 'no handler for path "/twirp/livekit.RoomService/Nope"',
      meta: { twirp_invalid_route: 'POST /twirp/livekit.RoomService/Nope' },
    });
    const get = await fetch(`${standIn.url}/twirp/livekit.RoomService/ListRooms`);
    expect(await get.json()).toMatchObject({ code: 'bad_route' });
    const badJson = await post('/twirp/livekit.RoomService/ListRooms', { body: '{' });
    // Twirp decodes the body before the handler checks any grant.
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toEqual({
      code: 'malformed',
      msg: 'the json request could not be decoded',
    });
  });

  it('serves GET / health and injects faults: latency, 5xx, 429, not ready, down', async () => {
    const standIn = await startStandIn();
    const health = await fetch(`${standIn.url}/`);
    expect([health.status, await health.text()]).toEqual([200, 'OK']);
    standIn.setReady(false);
    const notReady = await fetch(`${standIn.url}/`);
    expect(notReady.status).toBe(406);
    expect(await notReady.text()).toMatch(/^Not Ready/);

    const rooms = new RoomServiceClient(standIn.url, API_KEY, API_SECRET);
    standIn.inject({ methods: ['ListRooms'], error: 'resource_exhausted', times: 1 });
    await expect(rooms.listRooms()).rejects.toMatchObject({
      status: 429,
      code: 'resource_exhausted',
    });
    standIn.inject({ methods: ['ListRooms'], error: 'unavailable', times: 1 });
    await expect(rooms.listRooms()).rejects.toMatchObject({ status: 503, code: 'unavailable' });
    standIn.inject({ methods: ['ListRooms'], error: 'internal', times: 1 });
    await expect(rooms.listRooms()).rejects.toMatchObject({ status: 500, code: 'internal' });
    await expect(rooms.listRooms()).resolves.toEqual([]);

    standIn.inject({ methods: ['ListRooms'], latencyMs: 300, times: 1 });
    const slow = new RoomServiceClient(standIn.url, API_KEY, API_SECRET, { requestTimeout: 0.05 });
    await expect(slow.listRooms()).rejects.toMatchObject({ name: 'TimeoutError' });

    await standIn.goDown();
    // A pooled keep-alive socket may see "other side closed" first; new ones are refused.
    await expect(rooms.listRooms()).rejects.toThrow('fetch failed');
    const down = await rooms.listRooms().catch((e: unknown) => e);
    expect(((down as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
    await standIn.comeBack();
    await expect(rooms.listRooms()).resolves.toEqual([]);
  });

  it('signs webhooks as the server does, and WebhookReceiver accepts them', async () => {
    const sink = await startWebhookSink();
    const received: { body: string; authorization: string | undefined; type: string }[] = [];
    sink.use((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          body: Buffer.concat(chunks).toString('utf8'),
          authorization: req.headers.authorization,
          type: req.headers['content-type'] ?? '',
        });
        res.writeHead(200).end();
      });
    });
    const standIn = await startStandIn({ webhookUrls: [sink.url] });
    const rooms = new RoomServiceClient(standIn.url, API_KEY, API_SECRET);
    await rooms.createRoom({ name: 'w1' });
    await rooms.deleteRoom('w1');
    await standIn.webhooksDelivered();
    expect(received.map((r) => JSON.parse(r.body).event)).toEqual([
      'room_started',
      'room_finished',
    ]);
    const receiver = new WebhookReceiver(API_KEY, API_SECRET);
    for (const webhook of received) {
      expect(webhook.type).toBe('application/webhook+json');
      // The raw JWT, with no "Bearer " in front.
      expect(webhook.authorization).toMatch(/^eyJ/);
      const event = await receiver.receive(webhook.body, webhook.authorization);
      expect(event.room?.name).toBe('w1');
      const claims = JSON.parse(
        Buffer.from(webhook.authorization!.split('.')[1]!, 'base64url').toString('utf8'),
      );
      expect(claims.sha256).toBe(createHash('sha256').update(webhook.body).digest('base64'));
    }
  });
});

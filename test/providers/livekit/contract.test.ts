/**
 * One contract, two servers: what the LiveKit provider relies on, checked against the stand-in
 * (the test double) and the real livekit-server, so the stand-in cannot drift from the server.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AccessToken,
  AgentDispatchClient,
  RoomAgentDispatch,
  RoomServiceClient,
  WebhookReceiver,
} from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import {
  describeWithLiveKitServer,
  type LiveKitServerOptions,
} from '../../support/livekit-server.js';
import { signJwt } from '../../support/livekit-stand-in/jwt.js';
import { API_KEY, API_SECRET, startStandIn, startWebhookSink } from './fixture.js';
import { startRealServer } from './real-fixture.js';

interface ServerUnderTest {
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly rooms: RoomServiceClient;
  readonly dispatches: AgentDispatchClient;
  listDispatchNames(room: string): Promise<string[]>;
}

type Start = (options: {
  webhookUrls?: readonly string[];
  emptyTimeout?: number;
}) => Promise<ServerUnderTest>;

function underTest(url: string, apiKey: string, apiSecret: string): ServerUnderTest {
  const rooms = new RoomServiceClient(url, apiKey, apiSecret);
  const dispatches = new AgentDispatchClient(url, apiKey, apiSecret);
  return {
    url,
    apiKey,
    apiSecret,
    rooms,
    dispatches,
    listDispatchNames: async (room) =>
      (await dispatches.listDispatch(room)).map((d) => d.agentName).sort(),
  };
}

const startStandInUnderTest: Start = async (options) => {
  const standIn = await startStandIn({ webhookUrls: options.webhookUrls ?? [] });
  return underTest(standIn.url, API_KEY, API_SECRET);
};

const startRealUnderTest: Start = async (options) => {
  const serverOptions: LiveKitServerOptions = {
    webhookUrls: options.webhookUrls ?? [],
    ...(options.emptyTimeout === undefined ? {} : { emptyTimeout: options.emptyTimeout }),
  };
  const real = await startRealServer(serverOptions);
  return underTest(real.server.url, real.server.apiKey, real.server.apiSecret);
};

/** A webhook endpoint that records each delivery and answers with `status(event, attempt)`. */
async function recordingSink(status: (event: string, attempt: number) => number) {
  const sink = await startWebhookSink();
  const deliveries: {
    event: string;
    id: string;
    status: number;
    body: string;
    authorization: string | undefined;
    contentType: string | undefined;
  }[] = [];
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  sink.use((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const { event, id } = JSON.parse(body) as { event: string; id: string };
      const answer = status(event, deliveries.filter((d) => d.id === id).length);
      deliveries.push({
        event,
        id,
        status: answer,
        body,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
      });
      res.writeHead(answer).end();
      for (const waiter of waiters.filter((w) => w.check())) waiter.resolve();
    });
  });
  const count = (event: string) => deliveries.filter((d) => d.event === event).length;
  return {
    url: sink.url,
    deliveries,
    /** Resolves once `event` has been delivered `times` times (retries included). */
    delivered: (event: string, times: number) =>
      new Promise<void>((resolve) => {
        const check = () => count(event) >= times;
        if (check()) resolve();
        else waiters.push({ check, resolve });
      }),
  };
}

function contract(target: string, start: Start): void {
  it(`${target}: CreateRoom is get-or-create and returns a live room unchanged`, async () => {
    const server = await start({});
    await server.rooms.createRoom({ name: 'r', emptyTimeout: 30, metadata: 'first' });
    const again = await server.rooms.createRoom({ name: 'r', emptyTimeout: 99, metadata: 'x' });
    expect(again).toMatchObject({ name: 'r', emptyTimeout: 30, metadata: 'first' });
    expect((await server.rooms.listRooms()).map((room) => room.name)).toEqual(['r']);
  });

  it(`${target}: a room without agents gets the automatic dispatch (empty agent name); named agents replace it`, async () => {
    const server = await start({});
    await server.rooms.createRoom({ name: 'plain' });
    await server.rooms.createRoom({
      name: 'named',
      agents: [new RoomAgentDispatch({ agentName: 'intake', metadata: 'm' })],
    });
    expect(await server.listDispatchNames('plain')).toEqual(['']);
    expect(await server.listDispatchNames('named')).toEqual(['intake']);
  });

  it(`${target}: rooms are listed by name and deleted; a missing room is not_found, but lists no participants`, async () => {
    const server = await start({});
    const created = await server.rooms.createRoom({ name: 'r1', emptyTimeout: 30 });
    expect(created).toMatchObject({ name: 'r1', emptyTimeout: 30 });
    expect(created.sid).toMatch(/^RM_/);
    expect(await server.rooms.listRooms(['nope'])).toEqual([]);
    expect((await server.rooms.listRooms(['r1'])).map((room) => room.sid)).toEqual([created.sid]);
    await server.rooms.deleteRoom('r1');
    await expect(server.rooms.deleteRoom('r1')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'twirp error unknown: requested room does not exist',
    });
    // The presence checks read "no participants" for a room that is gone or never was.
    expect(await server.rooms.listParticipants('r1')).toEqual([]);
    expect(await server.rooms.listParticipants('nope')).toEqual([]);
  });

  it(`${target}: a dispatch auto-creates its room, carries its metadata, and is listed and deleted`, async () => {
    const server = await start({});
    const created = await server.dispatches.createDispatch('r9', 'intake', { metadata: 'm' });
    expect(created).toMatchObject({ agentName: 'intake', room: 'r9', metadata: 'm' });
    expect((await server.rooms.listRooms()).map((room) => room.name)).toEqual(['r9']);
    // The auto-created room has the automatic dispatch (empty agent name) too.
    expect(await server.listDispatchNames('r9')).toEqual(['', 'intake']);
    await server.dispatches.deleteDispatch(created.id, 'r9');
    expect(await server.listDispatchNames('r9')).toEqual(['']);
    await expect(server.dispatches.deleteDispatch(created.id, 'r9')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'twirp error unknown: dispatch ID not found',
    });
    // Dispatch calls go to the node hosting the room: for a missing one, none answers.
    await expect(server.dispatches.listDispatch('missing')).rejects.toMatchObject({
      status: 503,
      code: 'unavailable',
      message: 'twirp error unknown: no response from servers',
    });
  });

  it(`${target}: a room created again under the same name is another room: a new sid, in ListRooms and in its webhooks`, async () => {
    const sink = await recordingSink(() => 200);
    const server = await start({ webhookUrls: [sink.url] });
    const first = await server.rooms.createRoom({ name: 'again' });
    await server.rooms.deleteRoom('again');
    const second = await server.rooms.createRoom({ name: 'again' });
    expect(second.sid).toMatch(/^RM_/);
    expect(second.sid).not.toBe(first.sid);
    expect((await server.rooms.listRooms(['again'])).map((room) => room.sid)).toEqual([second.sid]);
    await sink.delivered('room_started', 2);
    const receiver = new WebhookReceiver(server.apiKey, server.apiSecret);
    const events = await Promise.all(
      sink.deliveries.map((d) => receiver.receive(d.body, d.authorization)),
    );
    expect(events.map((e) => `${e.event} ${e.room?.sid}`)).toEqual([
      `room_started ${first.sid}`,
      `room_finished ${first.sid}`,
      `room_started ${second.sid}`,
    ]);
  });

  it(`${target}: room names are limited to 256 bytes in UTF-8`, async () => {
    const server = await start({});
    // 128 characters, 256 bytes; then 129 characters, 258 bytes.
    await server.rooms.createRoom({ name: 'é'.repeat(128) });
    await expect(server.rooms.createRoom({ name: 'é'.repeat(129) })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_argument',
      message: 'twirp error unknown: room name length exceeds limits: max length 256',
    });
    expect((await server.rooms.listRooms()).map((room) => room.name)).toEqual(['é'.repeat(128)]);
  });

  it(`${target}: a token signed with the wrong secret is refused 401 in plain text that quotes the token`, async () => {
    const server = await start({});
    const wrong = new RoomServiceClient(server.url, server.apiKey, 'w'.repeat(40));
    const error = (await wrong.listRooms().catch((e: unknown) => e)) as Error & { status: number };
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/^invalid token: eyJ[\w-]+\.[\w-]+\.[\w-]+, error: /);
    const unknownKey = new RoomServiceClient(server.url, 'APIother', server.apiSecret);
    await expect(unknownKey.listRooms()).rejects.toMatchObject({
      status: 401,
      message: 'invalid API key: APIother',
    });
  });

  it(`${target}: tokens are signed with HS256; an expiry, when given, has a minute of leeway`, async () => {
    const server = await start({});
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: server.apiKey, video: { roomList: true } };
    const list = (token: string) =>
      new RoomServiceClient(server.url, undefined, undefined, { token }).listRooms();
    const sign = (extra: object, algorithm?: 'HS512') =>
      signJwt({ ...claims, ...extra }, server.apiSecret, algorithm);
    await expect(list(sign({ exp: now - 61 }))).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/^invalid token: .*, error: .*token is expired/),
    });
    // No expiry at all is accepted.
    await expect(list(sign({}))).resolves.toEqual([]);
    await expect(list(sign({ exp: now + 60 }, 'HS512'))).rejects.toMatchObject({ status: 401 });
    await expect(list(sign({ exp: now - 30 }))).resolves.toEqual([]);
  });

  it(`${target}: grants are checked per call: a join token cannot list rooms, and room admin is per room`, async () => {
    const server = await start({});
    const joinOnly = new AccessToken(server.apiKey, server.apiSecret, { identity: 'caller' });
    joinOnly.addGrant({ roomJoin: true, room: 'r1' });
    const asCaller = new RoomServiceClient(server.url, undefined, undefined, {
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
    // Not even about its own room.
    await server.rooms.createRoom({ name: 'r1' });
    for (const call of [() => asCaller.listParticipants('r1'), () => asCaller.deleteRoom('r1')]) {
      await expect(call()).rejects.toMatchObject({ status: 401, code: 'unauthenticated' });
    }
    expect((await server.rooms.listRooms()).map((room) => room.name)).toEqual(['r1']);
    const adminOfR1 = new AccessToken(server.apiKey, server.apiSecret);
    adminOfR1.addGrant({ roomAdmin: true, room: 'r1' });
    const dispatchAsAdmin = new AgentDispatchClient(server.url, undefined, undefined, {
      token: await adminOfR1.toJwt(),
    });
    await expect(dispatchAsAdmin.listDispatch('r2')).rejects.toMatchObject({
      code: 'unauthenticated',
    });
  });

  it(`${target}: Twirp answers an unknown method or a bad body before any handler; GET / answers OK`, async () => {
    const server = await start({});
    const post = (path: string, body = '{}') =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
    const unknown = await post('/twirp/livekit.RoomService/Nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      code: 'bad_route',
      msg: 'no handler for path "/twirp/livekit.RoomService/Nope"',
      meta: { twirp_invalid_route: 'POST /twirp/livekit.RoomService/Nope' },
    });
    const get = await fetch(`${server.url}/twirp/livekit.RoomService/ListRooms`);
    expect(await get.json()).toMatchObject({ code: 'bad_route' });
    const badJson = await post('/twirp/livekit.RoomService/ListRooms', '{');
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ code: 'malformed' });
    const health = await fetch(`${server.url}/`);
    expect([health.status, await health.text()]).toEqual([200, 'OK']);
  });

  it(`${target}: a room nobody joins ends at its emptyTimeout with a signed room_finished; a 5xx is retried, a 4xx is not`, async () => {
    const sink = await recordingSink((event, attempt) => {
      if (event === 'room_started') return 400;
      return attempt === 0 ? 503 : 200;
    });
    const server = await start({ webhookUrls: [sink.url] });
    await server.rooms.createRoom({ name: 'short', emptyTimeout: 1 });
    await sink.delivered('room_finished', 2);
    expect(await server.rooms.listRooms()).toEqual([]);
    // One room_started (400, not retried), then room_finished refused once (503) and retried.
    expect(sink.deliveries.map((d) => `${d.event} ${d.status}`)).toEqual([
      'room_started 400',
      'room_finished 503',
      'room_finished 200',
    ]);
    const delivered = sink.deliveries.at(-1)!;
    const event = await new WebhookReceiver(server.apiKey, server.apiSecret).receive(
      delivered.body,
      delivered.authorization,
    );
    expect(event).toMatchObject({ event: 'room_finished', room: { name: 'short' } });
    // The raw JWT (no "Bearer "), whose sha256 claim is the body's digest.
    expect(delivered.contentType).toBe('application/webhook+json');
    expect(delivered.authorization).toMatch(/^eyJ/);
    const payload = delivered.authorization!.split('.')[1]!;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    expect(claims.sha256).toBe(createHash('sha256').update(delivered.body).digest('base64'));
  });
}

describe('LiveKit contract: the stand-in (test double)', () => {
  contract('stand-in', startStandInUnderTest);
});

describeWithLiveKitServer('LiveKit contract: the real server', () => {
  contract('real server', startRealUnderTest);
});

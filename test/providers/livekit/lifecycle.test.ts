import { RoomServiceClient } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import {
  API_KEY,
  API_SECRET,
  eventually,
  jwtClaims,
  liveKitBackend,
  startStandIn,
  startWebhookSink,
} from './fixture.js';

describe('LiveKit provider: session lifecycle', () => {
  it('create -> room with the agent dispatched -> room_finished webhook -> slot free, closed settled', async () => {
    const sink = await startWebhookSink();
    const standIn = await startStandIn({ webhookUrls: [sink.url] });
    const backend = await liveKitBackend(standIn, {
      roomPrefix: 'call-',
      emptyTimeout: 45,
      departureTimeout: 5,
      maxParticipants: 3,
      tokenTtl: 40,
    });
    sink.use(backend.webhookHandler);
    const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });

    const session = await admission.createSession({
      userId: 'caller-1',
      tenantId: 'acme',
      metadata: { ticket: 7 },
    });
    const { roomName, token, url } = session.connection;
    expect(roomName).toBe(`call-${session.id}`);
    expect(url).toBe(standIn.wsUrl);
    expect(admission.active).toBe(1);

    const room = standIn.room(roomName)!;
    expect(room).toMatchObject({ emptyTimeout: 45, departureTimeout: 5, maxParticipants: 3 });
    const expectedMetadata = {
      sessionId: session.id,
      tenantId: 'acme',
      userId: 'caller-1',
      metadata: { ticket: 7 },
    };
    expect(JSON.parse(room.metadata)).toEqual(expectedMetadata);
    expect(room.dispatches).toHaveLength(1);
    expect(room.dispatches[0]!.agentName).toBe('intake');
    expect(JSON.parse(room.dispatches[0]!.metadata)).toEqual(expectedMetadata);

    // The caller's token: its identity, this room only, join rights only, the configured TTL.
    const claims = jwtClaims(token);
    expect(claims).toMatchObject({ iss: API_KEY, sub: 'caller-1' });
    expect(claims.video).toEqual({
      room: roomName,
      roomJoin: true,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    expect((claims.exp as number) - (claims.nbf as number)).toBe(40);
    // And the server agrees: it grants nothing beyond joining.
    const asCaller = new RoomServiceClient(standIn.url, undefined, undefined, { token });
    await expect(asCaller.listRooms()).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(asCaller.listParticipants(roomName)).rejects.toMatchObject({
      code: 'unauthenticated',
    });

    // The server closes the room on its own (e.g. emptyTimeout): the webhook settles the session.
    standIn.finishRoom(roomName);
    const end = await session.closed;
    expect(end.reason).toBe('remote_ended');
    expect(end.error).toBeUndefined();
    await standIn.webhooksDelivered();
    expect(standIn.deliveries.filter((d) => d.event === 'room_finished')).toEqual([
      { event: 'room_finished', room: roomName, status: 200 },
    ]);
    expect(admission.active).toBe(0);
    expect(backend.getActiveSessionCount()).toBe(0);
  });

  it('close() deletes the room; a room already gone counts as closed', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const a = await backend.createSession({ userId: 'a' });
    const b = await backend.createSession({ userId: 'b' });
    expect(standIn.roomNames()).toHaveLength(2);

    const end = await a.close();
    expect(end).toMatchObject({ reason: 'closed' });
    expect(end.error).toBeUndefined();
    expect(standIn.roomNames()).toEqual([b.connection.roomName]);
    expect(await a.close()).toBe(end);

    standIn.finishRoom(b.connection.roomName, { notify: false });
    const gone = await b.close();
    expect(gone.reason).toBe('closed');
    expect(gone.error).toBeUndefined();
    expect(standIn.calls('RoomService/DeleteRoom')).toBe(2);
  });

  it('stop() closes every session and deletes their rooms', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const sessions = await Promise.all(
      ['a', 'b', 'c'].map((userId) => backend.createSession({ userId })),
    );
    await backend.stop();
    const ends = await Promise.all(sessions.map((s) => s.closed));
    expect(ends.map((e) => e.reason)).toEqual([
      'backend_stopped',
      'backend_stopped',
      'backend_stopped',
    ]);
    expect(standIn.roomNames()).toEqual([]);
    await expect(backend.createSession({ userId: 'late' })).rejects.toMatchObject({
      code: 'stopped',
    });
  });

  it('stop() during a create waits for that create to clean up its room', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    standIn.inject({ methods: ['CreateRoom'], latencyMs: 150, times: 1 });
    const create = backend.createSession({ userId: 'late' });
    await eventually(() => standIn.calls('RoomService/CreateRoom') === 1);
    await backend.stop();
    // By then the room the create made has been deleted, not merely not created yet.
    expect(standIn.calls('RoomService/DeleteRoom')).toBe(1);
    expect(standIn.roomNames()).toEqual([]);
    await expect(create).rejects.toMatchObject({ code: 'stopped' });
  });

  it('ends the session when the caller leaves, when configured to', async () => {
    const sink = await startWebhookSink();
    const standIn = await startStandIn({ webhookUrls: [sink.url] });
    const backend = await liveKitBackend(standIn, { webhook: { endOnCallerLeft: true } });
    sink.use(backend.webhookHandler);
    const session = await backend.createSession({ userId: 'caller-9' });
    const room = session.connection.roomName;
    standIn.join(room, 'caller-9');
    standIn.join(room, 'someone-else');
    standIn.leave(room, 'someone-else');
    await standIn.webhooksDelivered();
    expect(session.state).toBe('active');
    standIn.leave(room, 'caller-9');
    expect((await session.closed).reason).toBe('participant_left');
    expect(standIn.roomNames()).toEqual([]);
  });

  it('ends the session when the caller’s connection is aborted (it never came up), when configured to', async () => {
    const sink = await startWebhookSink();
    const standIn = await startStandIn({ webhookUrls: [sink.url] });
    const backend = await liveKitBackend(standIn, { webhook: { endOnCallerLeft: true } });
    sink.use(backend.webhookHandler);
    const session = await backend.createSession({ userId: 'caller-9' });
    standIn.join(session.connection.roomName, 'caller-9');
    standIn.abortConnection(session.connection.roomName, 'caller-9');
    expect((await session.closed).reason).toBe('participant_left');
  });

  it('without endOnCallerLeft, the caller leaving changes nothing', async () => {
    const sink = await startWebhookSink();
    const standIn = await startStandIn({ webhookUrls: [sink.url] });
    const backend = await liveKitBackend(standIn);
    sink.use(backend.webhookHandler);
    const session = await backend.createSession({ userId: 'caller-9' });
    standIn.join(session.connection.roomName, 'caller-9');
    standIn.leave(session.connection.roomName, 'caller-9');
    await standIn.webhooksDelivered();
    expect(session.state).toBe('active');
  });

  it('accepts http, https, ws and wss URLs and credentials from the environment', async () => {
    const standIn = await startStandIn();
    process.env.LIVEKIT_URL = standIn.url;
    process.env.LIVEKIT_API_KEY = API_KEY;
    process.env.LIVEKIT_API_SECRET = API_SECRET;
    try {
      const backend = await liveKitBackend(standIn, {
        url: undefined,
        apiKey: undefined,
        apiSecret: undefined,
      });
      const session = await backend.createSession({ userId: 'env' });
      expect(session.connection.url).toBe(standIn.wsUrl);
      expect(standIn.roomNames()).toEqual([session.connection.roomName]);
    } finally {
      delete process.env.LIVEKIT_URL;
      delete process.env.LIVEKIT_API_KEY;
      delete process.env.LIVEKIT_API_SECRET;
    }
  });
});

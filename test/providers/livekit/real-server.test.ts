import { TrackKind } from '@livekit/rtc-node';
import { expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { describeWithLiveKitServer } from '../../support/livekit-server.js';
import { jwtClaims } from './fixture.js';
import { joinAsCaller, realBackend, startRealServer } from './real-fixture.js';

describeWithLiveKitServer('LiveKit provider on the real server: lifecycle', () => {
  it('creates the room with its options and the dispatch, the caller joins with its token, close() deletes the room', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, {
      roomPrefix: 'call-',
      emptyTimeout: 60,
      departureTimeout: 5,
      maxParticipants: 3,
      tokenTtl: 60,
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });
    const session = await admission.createSession({
      userId: 'caller-1',
      tenantId: 'acme',
      metadata: { ticket: 7 },
    });
    const { roomName, token, url } = session.connection;
    expect(url).toBe(real.wsUrl);

    const [room] = await real.rooms.listRooms([roomName]);
    expect(room).toMatchObject({
      name: `call-${session.id}`,
      emptyTimeout: 60,
      departureTimeout: 5,
      maxParticipants: 3,
    });
    const expectedMetadata = {
      sessionId: session.id,
      tenantId: 'acme',
      userId: 'caller-1',
      metadata: { ticket: 7 },
    };
    expect(JSON.parse(room!.metadata)).toEqual(expectedMetadata);
    const dispatches = await real.dispatches.listDispatch(roomName);
    expect(dispatches.map((d) => d.agentName)).toEqual(['intake']);
    expect(JSON.parse(dispatches[0]!.metadata)).toEqual(expectedMetadata);
    expect(jwtClaims(token)).toMatchObject({ sub: 'caller-1', video: { room: roomName } });

    // The caller joins for real, over loopback WebRTC, with the token it was handed.
    const caller = await joinAsCaller(session);
    const participants = await real.rooms.listParticipants(roomName);
    expect(participants.map((p) => p.identity)).toEqual(['caller-1']);

    const end = await session.close();
    expect(end.reason).toBe('closed');
    expect(end.error).toBeUndefined();
    await caller.disconnected;
    expect(await real.roomNames()).toEqual([]);
    expect(admission.active).toBe(0);
  });

  it('a burst of 40 creates at a cap of 8: never more rooms on the server than slots, none left', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real);
    const admission = new Admission(backend, {
      maxConcurrentSessions: 8,
      queue: { maxSize: 40, timeoutMs: 60_000 },
      health: false,
    });
    let peak = 0;
    let sampling = true;
    // The server's own count, sampled throughout the burst.
    const sampler = (async () => {
      while (sampling) peak = Math.max(peak, (await real.rooms.listRooms()).length);
    })();
    const calls = Array.from({ length: 40 }, async (_, i) => {
      const session = await admission.createSession({ userId: `caller-${i}` });
      return session.close();
    });
    expect(admission.active).toBe(8);
    const ends = await Promise.all(calls);
    sampling = false;
    await sampler;
    expect(ends.every((end) => end.reason === 'closed' && end.error === undefined)).toBe(true);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(8);
    expect(await real.roomNames()).toEqual([]);
    expect(admission.active).toBe(0);
  });
});

describeWithLiveKitServer('LiveKit provider on the real server: join mode', () => {
  it('joins the room as an agent participant, publishes audio the caller receives, answers text, leaves on close', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, {
      mode: 'join',
      agentName: undefined,
      emptyTimeout: 60,
      // The caller below uses rtc-node in this process too.
      join: { identity: 'assistant', disposeRtcOnStop: false },
    });
    const session = await backend.createSession({
      userId: 'caller',
      agentCallback: async ({ text }) => (text === 'hi' ? 'hello' : undefined),
    });
    const participants = await real.rooms.listParticipants(session.connection.roomName);
    expect(participants.map((p) => [p.identity, p.kind])).toEqual([['assistant', 4]]); // AGENT

    const caller = await joinAsCaller(session);
    const agent = backend.agentParticipant(session.id)!;
    const reply = new Promise<string>((resolve) => {
      caller.room.registerTextStreamHandler('lk.chat', async (reader) => {
        resolve(await reader.readAll());
      });
    });
    await agent.publishAudio({
      data: new Int16Array(480),
      sampleRate: 48_000,
      channels: 1,
      samplesPerChannel: 480,
    });
    const assistant = caller.room.remoteParticipants.get('assistant');
    expect([...(assistant?.trackPublications.values() ?? [])].map((t) => t.kind)).toEqual([
      TrackKind.KIND_AUDIO,
    ]);
    await caller.room.localParticipant!.sendText('hi', { topic: 'lk.chat' });
    expect(await reply).toBe('hello');

    await session.close();
    await caller.disconnected;
    expect(await real.roomNames()).toEqual([]);
  });
});

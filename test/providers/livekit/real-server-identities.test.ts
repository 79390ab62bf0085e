import { expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { ConfigError } from '../../../src/iface/errors.js';
import { describeWithLiveKitServer } from '../../support/livekit-server.js';
import { jwtClaims } from './fixture.js';
import { joinAsCaller, realBackend, startRealServer } from './real-fixture.js';

describeWithLiveKitServer('LiveKit provider on the real server: user ids as identities', () => {
  it('unicode, slashes, spaces, 128 characters and 256 UTF-8 bytes join as themselves, each in a room of its own', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, { emptyTimeout: 60 });
    const userIds = [
      '日本語 ユーザー',
      'tenant/user',
      ' spaced out ',
      '🙂',
      'u'.repeat(128),
      'é'.repeat(128),
    ];
    const sessions = await Promise.all(userIds.map((userId) => backend.createSession({ userId })));
    expect(new Set(sessions.map((s) => s.connection.roomName)).size).toBe(userIds.length);
    for (const session of sessions) {
      expect(jwtClaims(session.connection.token).sub).toBe(session.userId);
      const caller = await joinAsCaller(session);
      const participants = await real.rooms.listParticipants(session.connection.roomName);
      expect(participants.map((p) => p.identity)).toEqual([session.userId]);
      await caller.leave();
      await session.close();
    }
  });

  it('a user id over 256 UTF-8 bytes, which the server would refuse at join, is refused before any room is created', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, { emptyTimeout: 60 });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    // 129 characters, 258 bytes.
    const error = await admission
      .createSession({ userId: 'é'.repeat(129) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ field: 'sessionConfig.userId' });
    expect((error as Error).message).toBe(
      "sessionConfig.userId: must be at most 256 bytes in UTF-8 (LiveKit's participant identity limit), got 258",
    );
    expect(await real.roomNames()).toEqual([]);
    expect(admission.active).toBe(0);
  });

  it('join mode: a user id equal to the agent participant’s identity is refused (joining would disconnect the agent)', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, {
      mode: 'join',
      agentName: undefined,
      emptyTimeout: 60,
      join: { identity: 'assistant', disposeRtcOnStop: false },
    });
    const error = await backend.createSession({ userId: 'assistant' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'sessionConfig.userId: must not be the agent participant\'s identity (providerConfig.join.identity, "assistant"): the caller joining would disconnect the agent',
    );
    expect(await real.roomNames()).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { ConfigError } from '../../../src/iface/errors.js';
import { liveKitBackend, startStandIn } from './fixture.js';

describe('LiveKit provider: session configs it could never serve', () => {
  it('a user id over 256 UTF-8 bytes is refused as the caller’s error, before a slot or any server call', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    // 129 characters, 258 bytes: the server would refuse it only when the caller joins.
    const userId = 'é'.repeat(129);
    const message =
      "sessionConfig.userId: must be at most 256 bytes in UTF-8 (LiveKit's participant identity limit), got 258";
    expect(() => backend.checkSessionConfig({ userId })).toThrow(message);
    const error = await admission.createSession({ userId }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ field: 'sessionConfig.userId', message });
    await expect(backend.createSession({ userId })).rejects.toThrow(message);
    expect(standIn.totalCalls).toBe(0);
    expect(admission.stats()).toMatchObject({ active: 0, settingUp: 0 });

    // 128 characters, 256 bytes: taken.
    const session = await admission.createSession({ userId: 'é'.repeat(128) });
    expect(standIn.roomNames()).toEqual([session.connection.roomName]);
    await session.close();
  });

  it('join mode: the agent participant’s identity as user id is refused before any server call', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, {
      mode: 'join',
      agentName: undefined,
      join: { identity: 'assistant' },
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const message =
      'sessionConfig.userId: must not be the agent participant\'s identity (providerConfig.join.identity, "assistant"): the caller joining would disconnect the agent';
    await expect(admission.createSession({ userId: 'assistant' })).rejects.toThrow(message);
    await expect(backend.createSession({ userId: 'assistant' })).rejects.toThrow(message);
    expect(standIn.totalCalls).toBe(0);
    expect(admission.active).toBe(0);
  });

  it('metadata that cannot be serialised to JSON is refused before any server call', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    for (const metadata of [
      { count: 10n },
      {
        toJSON() {
          throw new Error('not today');
        },
      },
    ]) {
      const error = await admission.createSession({ userId: 'u', metadata }).catch((e) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ field: 'sessionConfig.metadata' });
      expect((error as Error).message).toMatch(
        /^sessionConfig.metadata: must be JSON-serialisable: /,
      );
      await expect(backend.createSession({ userId: 'u', metadata })).rejects.toThrow(ConfigError);
    }
    expect(standIn.totalCalls).toBe(0);
    expect(admission.active).toBe(0);
  });
});

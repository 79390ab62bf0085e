import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { ConfigError } from '../../../src/iface/errors.js';
import { createBackend } from '../../../src/index.js';
import { liveKitBackend, startStandIn } from './fixture.js';

describe('LiveKit provider: join mode', () => {
  it('a refused connection fails the create with unavailable, frees the slot and deletes the room', async () => {
    const standIn = await startStandIn();
    standIn.setSignalling('refuse');
    const backend = await liveKitBackend(standIn, { mode: 'join', agentName: undefined });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const error = await admission.createSession({ userId: 'caller' }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'BackendError',
      code: 'unavailable',
      op: 'create_session',
    });
    expect((error as Error).message).toMatch(/^joining the LiveKit room failed: /);
    expect(admission.active).toBe(0);
    expect(backend.getActiveSessionCount()).toBe(0);
    expect(standIn.roomNames()).toEqual([]);
    expect(standIn.calls('RoomService/DeleteRoom')).toBe(1);
  });

  it('a connection that never answers fails at connectTimeoutMs with timeout; the slot is freed', async () => {
    const standIn = await startStandIn();
    standIn.setSignalling('hang');
    const backend = await liveKitBackend(standIn, {
      mode: 'join',
      agentName: undefined,
      join: { connectTimeoutMs: 300 },
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    await expect(admission.createSession({ userId: 'caller' })).rejects.toMatchObject({
      code: 'timeout',
      message: 'joining the LiveKit room failed: connecting to the room took longer than 300 ms',
    });
    expect(admission.active).toBe(0);
    expect(standIn.roomNames()).toEqual([]);
  });

  it('refuses an agentName with join mode: the dispatched agent would join as well', async () => {
    await expect(
      createBackend('livekit', {
        providerConfig: {
          url: 'ws://127.0.0.1:7880',
          apiKey: 'k',
          apiSecret: 's',
          mode: 'join',
          agentName: 'intake',
        },
      }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

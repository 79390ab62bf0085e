import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { AdmissionError } from '../../../src/iface/errors.js';
import { API_KEY, API_SECRET, liveKitBackend, onCleanup, startStandIn } from './fixture.js';

describe('LiveKit provider: health', () => {
  it('is healthy when GET / answers OK and ListRooms is authorised', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const status = await backend.healthCheck();
    expect(status).toMatchObject({ healthy: true, status: 'healthy' });
    expect(status.details).toMatchObject({
      httpLatencyMs: expect.any(Number),
      apiLatencyMs: expect.any(Number),
    });
    expect(standIn.calls('RoomService/ListRooms')).toBe(1);
  });

  it('is unhealthy with a reason when the server is down, refuses us, or is not ready', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);

    standIn.setReady(false);
    expect(await backend.healthCheck()).toMatchObject({
      healthy: false,
      status: 'unhealthy',
      reason: 'GET / answered 406: the server is not ready',
    });
    standIn.setReady(true);

    standIn.setKeys({ [API_KEY]: 'rotated-secret-0123456789abcdef' });
    const refused = await backend.healthCheck();
    expect(refused.status).toBe('unhealthy');
    expect(refused.reason).toMatch(
      /^ListRooms refused our credentials, check the API key and secret \(LiveKit ListRooms failed: 401: invalid token: \[redacted\], error: /,
    );
    expect(refused.reason).not.toContain(API_SECRET);

    await standIn.goDown();
    const down = await backend.healthCheck();
    expect(down.status).toBe('unhealthy');
    expect(down.reason).toMatch(
      /^GET \/ failed: server unreachable.*; LiveKit ListRooms failed: server unreachable/,
    );
  });

  it('is unhealthy when a probe outlasts its timeout, degraded when it is merely slow', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, {
      health: { timeoutMs: 150, degradedLatencyMs: 40 },
    });
    standIn.inject({ methods: ['ListRooms'], latencyMs: 400, times: 1 });
    const stuck = await backend.healthCheck();
    expect(stuck).toMatchObject({ status: 'unhealthy' });
    expect(stuck.reason).toBe('ListRooms did not answer within 150 ms');

    standIn.inject({ methods: ['ListRooms'], latencyMs: 60, times: 1 });
    const slow = await backend.healthCheck();
    expect(slow).toMatchObject({ healthy: true, status: 'degraded' });
    expect(slow.reason).toMatch(/^slow: the server took \d+ ms \(threshold 40 ms\)$/);
  });

  it('down or 401 -> admission refuses fast with unhealthy, without calling the server; recovery -> admitted', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const admission = new Admission(backend, {
      maxConcurrentSessions: 5,
      // Long interval: the test drives the checks with checkHealth().
      health: { intervalMs: 60_000, timeoutMs: 2_000 },
    });
    onCleanup(() => admission.drain({ timeoutMs: 1 }));
    await admission.checkHealth();
    await expect(admission.createSession({ userId: 'ok' })).resolves.toMatchObject({
      state: 'active',
    });

    await standIn.goDown();
    expect((await admission.checkHealth()).status).toBe('unhealthy');
    const creates = standIn.calls('RoomService/CreateRoom');
    const refusal = await admission.createSession({ userId: 'refused' }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(AdmissionError);
    expect(refusal).toMatchObject({ code: 'unhealthy' });
    expect((refusal as AdmissionError).retryAfterMs).toBeGreaterThan(0);
    await standIn.comeBack();
    expect(standIn.calls('RoomService/CreateRoom')).toBe(creates);

    standIn.setKeys({ [API_KEY]: 'rotated-secret-0123456789abcdef' });
    expect((await admission.checkHealth()).status).toBe('unhealthy');
    await expect(admission.createSession({ userId: 'refused' })).rejects.toMatchObject({
      code: 'unhealthy',
    });
    expect(standIn.calls('RoomService/CreateRoom')).toBe(creates);

    standIn.setKeys({ [API_KEY]: API_SECRET });
    expect((await admission.checkHealth()).status).toBe('healthy');
    await expect(admission.createSession({ userId: 'back' })).resolves.toMatchObject({
      state: 'active',
    });
  });
});

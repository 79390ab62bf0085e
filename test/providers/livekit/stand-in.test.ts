import { RoomServiceClient } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { API_KEY, API_SECRET, startStandIn } from './fixture.js';

/**
 * What only the stand-in does: inject faults the real server cannot be made to produce. What it
 * shares with the real server is checked against both in contract.test.ts.
 */
describe('LiveKit stand-in (test double): faults', () => {
  it('reports not ready, and injects latency, 5xx, 429 and going down', async () => {
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
});

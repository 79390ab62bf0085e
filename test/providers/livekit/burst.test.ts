import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { liveKitBackend, startStandIn } from './fixture.js';

describe('LiveKit provider under a burst', () => {
  it('300 creates with cap 50: the server never holds more than 50 of our rooms; none remain', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const admission = new Admission(backend, {
      maxConcurrentSessions: 50,
      queue: { maxSize: 300, timeoutMs: 60_000 },
      health: false,
    });
    let sessionsSeen = 0;
    const calls = Array.from({ length: 300 }, async (_, i) => {
      const session = await admission.createSession({
        userId: `caller-${i}`,
        tenantId: `tenant-${i % 4}`,
      });
      sessionsSeen++;
      // Hold the session a little, as a call would, so later requests must wait for slots.
      await new Promise((resolve) => setTimeout(resolve, i % 7));
      return session.close();
    });
    // Every request is decided at once: 50 slots taken, the other 250 wait in the queue.
    expect(admission.active).toBe(50);
    expect(admission.queued).toBe(250);

    const ends = await Promise.all(calls);
    expect(ends.every((end) => end.reason === 'closed' && end.error === undefined)).toBe(true);
    expect(sessionsSeen).toBe(300);
    expect(standIn.peakRooms).toBeLessThanOrEqual(50);
    expect(standIn.roomNames()).toEqual([]);
    expect(standIn.calls('RoomService/CreateRoom')).toBe(300);
    // The dispatch travels inside CreateRoom: no separate call.
    expect(standIn.calls('AgentDispatchService/CreateDispatch')).toBe(0);
    expect(standIn.calls('RoomService/DeleteRoom')).toBe(300);
    expect(admission.active).toBe(0);
    expect(backend.getActiveSessionCount()).toBe(0);
  });
});

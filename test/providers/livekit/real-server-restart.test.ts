import { expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import type { LiveKitBackend, LiveKitBackendEvents } from '../../../src/index.js';
import { describeWithLiveKitServer } from '../../support/livekit-server.js';
import { eventually, startWebhookSink } from './fixture.js';
import {
  type Caller,
  joinAsCaller,
  type RealServer,
  realBackend,
  startRealServer,
} from './real-fixture.js';

/** Every `event` the backend emits, as they come. */
function record<K extends keyof LiveKitBackendEvents>(
  backend: LiveKitBackend,
  event: K,
): LiveKitBackendEvents[K][] {
  const seen: LiveKitBackendEvents[K][] = [];
  backend.on(event, (payload) => seen.push(payload));
  return seen;
}

/**
 * A session whose caller is in its room when the server is killed and started again on the
 * same port. The restarted node has no rooms; the caller's client reconnects with its token
 * and the room is re-created (rooms auto-create on join), under a new sid, without the agent
 * dispatch the provider gave it. Resolves once that re-created room has been seen; the
 * provider learns of it through `notify` (webhooks let through, or a reconciliation).
 */
async function restartUnderACaller(
  real: RealServer,
  backend: LiveKitBackend,
  notify: () => Promise<unknown>,
): Promise<{ admission: Admission; releases: number[]; caller: Caller; roomName: string }> {
  const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });
  const releases: number[] = [];
  admission.on('released', ({ active }) => releases.push(active));
  const session = await admission.createSession({ userId: 'caller' });
  const { roomName } = session.connection;
  const [before] = await real.rooms.listRooms([roomName]);
  const caller = await joinAsCaller(session);
  const reconnected = new Promise<void>((resolve) => caller.room.once('reconnected', resolve));

  await real.server.kill();
  await real.server.restart();
  await reconnected;
  const [recreated] = await real.rooms.listRooms([roomName]);
  expect(recreated!.sid).not.toBe(before!.sid);
  expect((await real.dispatches.listDispatch(roomName)).map((d) => d.agentName)).toEqual(['']);
  expect(session.state).toBe('active');

  await notify();
  expect((await session.closed).reason).toBe('remote_ended');
  return { admission, releases, caller, roomName };
}

describeWithLiveKitServer('LiveKit provider on the real server: the server restarted', () => {
  it.each([
    ['the re-created room’s webhooks', true],
    ['reconciliation (webhooks off)', false],
  ])(
    'a room the restarted server re-created for a reconnecting caller is not the session’s: %s end the session once, delete that room, and new sessions work',
    async (_, webhooks) => {
      const sink = await startWebhookSink();
      const real = await startRealServer({ webhookUrls: webhooks ? [sink.url] : [] });
      const backend = await realBackend(real, {
        emptyTimeout: 60,
        reconcile: { intervalMs: 60_000 },
      });
      // Webhooks wait until the test has seen the re-created room (the server sends them one
      // at a time per room, in order).
      let letThrough = (): void => undefined;
      const held = new Promise<void>((resolve) => (letThrough = resolve));
      sink.use((req, res) => void held.then(() => backend.webhookHandler(req, res)));
      const ended = record(backend, 'room_ended');
      const notify = async () => (webhooks ? letThrough() : backend.reconcile());
      const { admission, releases, caller, roomName } = await restartUnderACaller(
        real,
        backend,
        notify,
      );

      expect(ended.map(({ roomName: room, via }) => [room, via])).toEqual([
        [roomName, webhooks ? 'webhook' : 'reconcile'],
      ]);
      await caller.disconnected;
      expect(await real.roomNames()).toEqual([]);
      expect(releases).toEqual([0]);

      const after = await admission.createSession({ userId: 'after' });
      expect(await real.roomNames()).toEqual([after.connection.roomName]);
      await after.close();
      expect(releases).toEqual([0, 0]);
    },
  );
});

describeWithLiveKitServer(
  'LiveKit provider on the real server: the server stopped gracefully',
  () => {
    it('a node stopped with SIGTERM: the sessions its webhooks did not end are ended by reconciliation after its restart, each slot released once', async () => {
      const sink = await startWebhookSink();
      const real = await startRealServer({ webhookUrls: [sink.url] });
      const backend = await realBackend(real, {
        emptyTimeout: 60,
        reconcile: { intervalMs: 60_000 },
      });
      const outcomes: string[] = [];
      sink.use((req, res) => {
        backend.webhookHandler(req, res);
        res.once('finish', () => outcomes.push(String(res.statusCode)));
      });
      const ended = record(backend, 'room_ended');
      const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });
      const releases: number[] = [];
      admission.on('released', ({ active }) => releases.push(active));
      const sessions = await Promise.all(
        ['a', 'b'].map((userId) => admission.createSession({ userId })),
      );
      // Both room_started delivered: the node's webhook queue is empty before it is stopped.
      await eventually(() => outcomes.length === 2);

      await real.server.terminate();
      await real.server.restart();
      // The stopping node does not wait for its webhooks: a room_finished it queued while
      // closing its rooms may or may not have been delivered before it exited.
      const unreported = sessions.filter((s) => s.state === 'active').map((s) => s.id);
      const report = await backend.reconcile();
      expect([...report.ended].sort()).toEqual(unreported.sort());
      expect(ended.filter((e) => e.via === 'reconcile')).toHaveLength(unreported.length);
      expect(ended).toHaveLength(2);
      expect(await Promise.all(sessions.map(async (s) => (await s.closed).reason))).toEqual([
        'remote_ended',
        'remote_ended',
      ]);
      expect(releases).toEqual([1, 0]);
    });
  },
);

import { expect, it } from 'vitest';
import { eventually, onCleanup } from '../providers/livekit/fixture.js';
import {
  type RealServer,
  realBackend,
  startRealServer,
} from '../providers/livekit/real-fixture.js';
import { startAgentWorker } from '../support/livekit-agent-worker.js';
import { describeWithLiveKitServer } from '../support/livekit-server.js';

/** Rooms that have an agent participant in them now, as the server sees it. */
async function roomsWithAgent(real: RealServer, rooms: readonly string[]): Promise<number> {
  const found = await Promise.all(
    rooms.map(async (room) => {
      const participants = await real.rooms.listParticipants(room).catch(() => []);
      return participants.some((p) => p.identity.startsWith('agent-'));
    }),
  );
  return found.filter(Boolean).length;
}

describeWithLiveKitServer('admitAgentJobs on a real @livekit/agents worker', () => {
  it.each([0, 1])(
    'numIdleProcesses %i: a burst of 5 dispatches at a cap of 2 runs 2 agents; every slot comes back when the jobs end',
    async (numIdleProcesses) => {
      const real = await startRealServer();
      const { apiKey, apiSecret } = real.server;
      const worker = await startAgentWorker({
        wsUrl: real.wsUrl,
        apiKey,
        apiSecret,
        agentName: 'intake',
        numIdleProcesses,
        cap: 2,
      });
      onCleanup(() => worker.stop());
      const backend = await realBackend(real, { emptyTimeout: 60 });

      const sessions = await Promise.all(
        Array.from({ length: 5 }, (_, i) => backend.createSession({ userId: `caller-${i}` })),
      );
      const rooms = sessions.map((s) => s.connection.roomName);
      // Every job was answered: two accepted, three rejected (no other worker: dropped).
      const answered = await worker.until((s) => s.accepted.length + s.rejected.length === 5);
      expect(answered.accepted).toHaveLength(2);
      let agentsIn = 0;
      // Job processes start slowly on a loaded machine: the test's own timeout is the bound.
      await eventually(
        () => agentsIn === 2,
        Number.POSITIVE_INFINITY,
        async () => {
          agentsIn = await roomsWithAgent(real, rooms);
          expect(agentsIn).toBeLessThanOrEqual(2);
        },
      );

      // The calls end: their rooms go, the jobs end, and the slots come back.
      await Promise.all(sessions.map((s) => s.close()));
      const drained = await worker.until((s) => s.held === 0);
      expect(drained.active).toBe(0);
      expect(drained.peakHeld).toBe(2);
      // The server offers a job only to a worker whose last load report had room: wait until
      // the worker has reported the load it has now that its slots are free (the report after
      // the next one is computed only once that one was sent).
      await worker.until((s) => s.loadReports >= drained.loadReports + 2);

      // The worker is not left full: a new wave gets its agents. These creates wait for their
      // agent (awaitAgent): each resolves only once its agent is in the room.
      const awaiting = await realBackend(real, {
        emptyTimeout: 60,
        awaitAgent: { timeoutMs: 120_000, pollIntervalMs: 100 },
      });
      const again = await Promise.all(
        [0, 1].map((i) => awaiting.createSession({ userId: `again-${i}` })),
      );
      expect(
        await roomsWithAgent(
          real,
          again.map((s) => s.connection.roomName),
        ),
      ).toBe(2);
      expect(worker.state().accepted).toHaveLength(4);
      expect(worker.state().peakHeld).toBe(2);
    },
    300_000,
  );
});

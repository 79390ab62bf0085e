import { expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { eventually, onCleanup } from '../providers/livekit/fixture.js';
import {
  type RealServer,
  realBackend,
  startIntakeWorker,
  startRealServer,
} from '../providers/livekit/real-fixture.js';
import { describeWithBinary } from '../support/binaries.js';
import { describeWithLiveKitServer } from '../support/livekit-server.js';
import { startRedis } from '../support/redis-server.js';

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
      const worker = await startIntakeWorker(real, {
        numIdleProcesses,
        cap: 2,
      });
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
      // Wait until the worker has reported the load it has now that its slots are free (the
      // report after the next one is computed only once that one was sent), so the new wave
      // finds free slots rather than waiting for one (waitForSlotMs).
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

  it('a burst of 8 starts through an Admission of cap 2 on a worker of 2 slots: every start gets its agent, no job is rejected, at most 2 held', async () => {
    const real = await startRealServer();
    const worker = await startIntakeWorker(real, {
      numIdleProcesses: 0,
      cap: 2,
    });
    // Each create resolves only once its agent is in the room (awaitAgent).
    const backend = await realBackend(real, {
      emptyTimeout: 60,
      awaitAgent: { timeoutMs: 120_000, pollIntervalMs: 100 },
    });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 2,
      queue: { maxSize: 8, timeoutMs: Number.POSITIVE_INFINITY },
      // Job processes start slowly on a loaded machine: the test's own timeout is the bound.
      setup: { timeoutMs: Number.POSITIVE_INFINITY },
      health: false,
      telemetry: false,
    });

    // A call ends (its room is deleted, the application's slot comes back) as soon as its
    // agent is in: the next start is dispatched while the worker may still count that call.
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const session = await admission
          .createSession({ userId: `caller-${i}` })
          .catch((error: unknown) => {
            // What the worker printed says why an agent never joined (a job process killed?).
            throw new Error(`${String(error)}\nworker output:\n${worker.output()}`);
          });
        await session.close();
      }),
    );

    const state = await worker.until((s) => s.held === 0);
    expect(state.rejected).toEqual([]);
    expect(state.accepted).toHaveLength(8);
    expect(state.peakHeld).toBeLessThanOrEqual(2);
  }, 300_000);

  it('the server restarted under a running job: its slot comes back once, and the worker, registered again, takes the next job', async () => {
    const real = await startRealServer();
    const worker = await startIntakeWorker(real, {
      numIdleProcesses: 0,
      cap: 2,
    });
    const awaitAgent = { timeoutMs: 120_000, pollIntervalMs: 100 };
    const backend = await realBackend(real, { emptyTimeout: 60, awaitAgent });
    await backend.createSession({ userId: 'before' });
    expect(worker.state()).toMatchObject({ held: 1, active: 1 });

    // The restarted node has no rooms. The job's process reconnects and re-creates its room
    // (rooms auto-create on join) under a new sid: that is not the job's room any more.
    await real.server.kill();
    await real.server.restart();
    expect(await worker.until((s) => s.held === 0)).toMatchObject({ active: 0, peakHeld: 1 });
    // A job dispatched before the worker is registered again would be dropped (no worker).
    await worker.until((s) => s.registrations === 2);

    const after = await realBackend(real, { emptyTimeout: 60, awaitAgent });
    await after.createSession({ userId: 'after' });
    expect(worker.state()).toMatchObject({ held: 1, active: 1, peakHeld: 1, rejected: [] });
    expect(worker.state().accepted).toHaveLength(2);
  }, 300_000);

  /*
   * When LiveKit server 1.13.5 hands one job id to a second worker: only inside one job
   * request (pkg/service/agentservice.go, AgentHandler.JobRequest), which offers the same job
   * to the next worker when the one asked answered "not available" or its connection closed
   * while the server waited for its answer (agent.ErrWorkerNotAvailable, ErrWorkerClosed),
   * until about 3 s after the request (psrpc's default client timeout: JobRequest is sent
   * without one). A worker that disconnects after it was assigned a job does not get that job
   * re-dispatched (deregisterWorker: "TODO update dispatch state"; AvailabilityRequest.resuming
   * is never set), and every new dispatch gets a new job id (pkg/agent/client.go, LaunchJob).
   * So the second worker sees the same id when the first decided to take it, took its key,
   * and died before answering: here the first worker exits at its accept.
   */
  describeWithBinary('redis-server', 'with a Redis store shared by two workers', () => {
    it('the same job id reaches both workers and only the first takes it: the second finds its key claimed and rejects it', async () => {
      const real = await startRealServer();
      const redis = await startRedis();
      onCleanup(() => redis.stop());
      redis.seedLimiter('intake-workers');
      const workers = await Promise.all(
        [0, 1].map(() =>
          startIntakeWorker(real, {
            numIdleProcesses: 0,
            cap: 2,
            redisUrl: redis.url,
            storeName: 'intake-workers',
            keyFromJobId: true,
            exitOnAccept: true,
          }),
        ),
      );
      const backend = await realBackend(real, { emptyTimeout: 60 });

      await backend.createSession({ userId: 'caller' });
      // Whichever worker the server asks first takes the job's key and dies before answering;
      // the server then offers the same job to the other one.
      const answers = () => workers.map((w) => w.state());
      await eventually(
        () => answers().every((s) => s.accepted.length + s.rejected.length === 1),
        Number.POSITIVE_INFINITY,
      );
      const [first, second] = answers().sort((a, b) => b.accepted.length - a.accepted.length);
      expect(first!.accepted).toHaveLength(1);
      expect(first!.rejected).toEqual([]);
      expect(second!.accepted).toEqual([]);
      expect(second!.rejected).toEqual(first!.accepted);
      expect(second!.held).toBe(0);
    }, 300_000);
  });
});

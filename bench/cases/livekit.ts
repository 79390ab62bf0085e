/**
 * The burst users report, for real: simultaneous session starts against a real LiveKit server
 * (built by `npm run livekit-server`) with a real @livekit/agents worker of fixed capacity,
 * without admission and through Admission. Each start is timed from the request to its agent
 * being in the room (the provider's `awaitAgent`).
 */
import { Admission } from '../../src/admission/admission.js';
import { formatMs, percentile } from '../../src/cli/stats.js';
import { BackendError } from '../../src/iface/errors.js';
import { createBackend, type LiveKitBackend } from '../../src/index.js';
import {
  type AgentWorkerProcess,
  startAgentWorker,
} from '../../test/support/livekit-agent-worker.js';
import { type LiveKitServer, startLiveKitServer } from '../../test/support/livekit-server.js';
import type { BenchCase, Row } from '../measure.js';

/** Jobs the worker runs at once (its admitAgentJobs cap): its real capacity. */
const WORKER_CAPACITY = 10;
/** How long each call lasts once its agent is in the room. */
const CALL_MS = 2_000;
const AGENT_TIMEOUT_MS = 60_000;
/**
 * The worker's `initializeProcessTimeout`. With @livekit/agents' default (10 s), job processes
 * forked together on this shared 2-core machine outlast it, are killed, and their jobs never
 * run: the bench would measure the machine's process start, not admission.
 */
const JOB_PROCESS_INIT_TIMEOUT_MS = 120_000;

interface BurstResult {
  readonly label: string;
  readonly starts: number;
  /** Request to agent in room, per start that got its agent. */
  readonly agentInRoomMs: number[];
  /** Starts whose agent never came (the job was dropped: no worker took it). */
  readonly dropped: number;
  /** Other failures (server errors, refusals). */
  readonly failed: number;
  /** Jobs the worker accepted and rejected during the run. */
  readonly accepted: number;
  readonly rejected: number;
  readonly peakRooms: number;
  readonly wallMs: number;
}

async function burst(
  server: LiveKitServer,
  worker: AgentWorkerProcess,
  starts: number,
  admitted: boolean,
): Promise<BurstResult> {
  const backend = (await createBackend('livekit', {
    providerConfig: {
      url: server.wsUrl,
      apiKey: server.apiKey,
      apiSecret: server.apiSecret,
      agentName: 'intake',
      reconcile: false,
      emptyTimeout: 120,
      awaitAgent: { timeoutMs: AGENT_TIMEOUT_MS, pollIntervalMs: 250 },
    },
  })) as LiveKitBackend;
  await backend.start();
  const admission = admitted
    ? new Admission(backend, {
        maxConcurrentSessions: WORKER_CAPACITY,
        queue: { maxSize: 1_000, timeoutMs: 600_000 },
        setup: { concurrency: 5, perSecond: 10, timeoutMs: AGENT_TIMEOUT_MS + 10_000 },
        health: false,
        telemetry: false,
      })
    : undefined;
  const { RoomServiceClient } = await import('livekit-server-sdk');
  const rooms = new RoomServiceClient(server.url, server.apiKey, server.apiSecret);
  let peakRooms = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRooms = Math.max(peakRooms, (await rooms.listRooms()).length);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  const before = worker.state();
  const agentInRoomMs: number[] = [];
  let dropped = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: starts }, async (_, i) => {
      const t0 = performance.now();
      try {
        const config = { userId: `caller-${i}` };
        const session = await (admission?.createSession(config) ?? backend.createSession(config));
        agentInRoomMs.push(performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, CALL_MS));
        await session.close();
      } catch (error) {
        if (error instanceof BackendError && error.message.startsWith('no agent')) dropped++;
        else failed++;
      }
    }),
  );
  const wallMs = performance.now() - started;
  sampling = false;
  await sampler;
  await backend.stop();
  // The next run starts with the worker empty.
  const after = await worker.until((state) => state.held === 0);
  return {
    accepted: after.accepted.length - before.accepted.length,
    rejected: after.rejected.length - before.rejected.length,
    label: admitted ? 'Admission' : 'no admission',
    starts,
    agentInRoomMs,
    dropped,
    failed,
    peakRooms,
    wallMs,
  };
}

function rows(group: string, result: BurstResult): Row[] {
  const name = `${result.starts} starts, ${result.label}`;
  const latencies = [50, 90, 99].map((p) =>
    result.agentInRoomMs.length === 0 ? '-' : formatMs(percentile(result.agentInRoomMs, p)),
  );
  return [
    {
      group,
      name: `${name}: request -> agent in room p50 / p90 / p99`,
      value: latencies.join(' / '),
      ratio: `${result.agentInRoomMs.length}/${result.starts} served`,
    },
    {
      group,
      name: `${name}: dropped jobs, failures, peak rooms, wall`,
      value: `${result.dropped} dropped, ${result.failed} failed, peak ${result.peakRooms} rooms, ${formatMs(result.wallMs)}`,
      ratio: `worker: ${result.accepted} accepted, ${result.rejected} rejected`,
      ...(result.label === 'Admission'
        ? {
            target: `no drops, peak <= ${WORKER_CAPACITY}`,
            met: result.dropped === 0 && result.failed === 0 && result.peakRooms <= WORKER_CAPACITY,
          }
        : {}),
    },
  ];
}

export const livekit: BenchCase = {
  name: `LiveKit burst: real server, real agent worker of ${WORKER_CAPACITY} jobs, ${CALL_MS / 1000} s calls`,
  command: 'npm run bench -- livekit',
  async run(): Promise<Row[]> {
    const server = await startLiveKitServer();
    const worker = await startAgentWorker({
      wsUrl: server.wsUrl,
      apiKey: server.apiKey,
      apiSecret: server.apiSecret,
      agentName: 'intake',
      numIdleProcesses: 0,
      cap: WORKER_CAPACITY,
      initializeProcessTimeout: JOB_PROCESS_INIT_TIMEOUT_MS,
    });
    try {
      const out: Row[] = [];
      for (const starts of [50, 200]) {
        for (const admitted of [false, true]) {
          const result = await burst(server, worker, starts, admitted);
          process.stderr.write(`  ${starts} starts, ${result.label}: done\n`);
          out.push(...rows(this.name, result));
        }
      }
      return out;
    } finally {
      await worker.stop();
      await server.stop();
    }
  },
};

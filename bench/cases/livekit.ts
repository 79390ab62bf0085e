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
import { type BenchCase, type Row, rowNamed } from '../measure.js';

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
const ADMISSION_SETUP = { concurrency: 5, perSecond: 10 } as const;
const STARTS = [50, 200] as const;

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
        setup: { ...ADMISSION_SETUP, timeoutMs: AGENT_TIMEOUT_MS + 10_000 },
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

const runName = (starts: number, label: string): string => `${starts} starts, ${label}`;
const LATENCY = 'request -> agent in room p50 / p90 / p99';
const OUTCOME = 'dropped jobs, failures, peak rooms, wall';

function rows(group: string, result: BurstResult): Row[] {
  const name = runName(result.starts, result.label);
  const latencies = [50, 90, 99].map((p) =>
    result.agentInRoomMs.length === 0 ? '-' : formatMs(percentile(result.agentInRoomMs, p)),
  );
  return [
    {
      group,
      name: `${name}: ${LATENCY}`,
      value: latencies.join(' / '),
      ratio: `${result.agentInRoomMs.length}/${result.starts} served`,
    },
    {
      group,
      name: `${name}: ${OUTCOME}`,
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
  notes(rows) {
    const row = (starts: number, label: string, what: string): Row =>
      rowNamed(rows, `${runName(starts, label)}: ${what}`);
    const most = STARTS.at(-1)!;
    const bare = row(most, 'no admission', OUTCOME);
    const admitted = row(most, 'Admission', OUTCOME);
    const forkedP50 = row(STARTS[0], 'no admission', LATENCY).value.split(' / ')[0];
    return [
      `The server is livekit-server 1.13.5 (built by \`npm run livekit-server\`) and one @livekit/agents 1.9 worker process, which runs its jobs through \`admitAgentJobs\` with a cap of ${WORKER_CAPACITY} and the default \`waitForSlotMs\`, \`numIdleProcesses: 0\` (a process forked per job) and \`initializeProcessTimeout\` ${JOB_PROCESS_INIT_TIMEOUT_MS / 1000} s. Each start is timed from the request to its agent being in the room (\`awaitAgent\`, ${AGENT_TIMEOUT_MS / 1000} s); a start whose agent never came is a dropped job (the worker rejected it, or the server dropped it without offering it, and no other worker could take it). "worker" counts the job requests the worker accepted and rejected. Admission: cap ${WORKER_CAPACITY}, ${ADMISSION_SETUP.concurrency} setups at once, ${ADMISSION_SETUP.perSecond} per second.`,
      `Without admission the worker takes the jobs it has slots for, plus those offered while a call ends within the time a job waits for a slot, and rejects the rest: the server drops them (${most} starts: ${bare.value}; ${bare.ratio}). Through Admission (${most} starts: ${admitted.value}) a start queued behind a call that has just ended is dispatched while the worker still holds that call, waits in \`requestFunc\` until the call's deleted room frees its slot, and is accepted.`,
      `The jobs a worker accepts in a burst are forked at once: without admission the first agents were in their rooms after ${forkedP50} (p50 of ${STARTS[0]} starts), most of it their job processes starting on this machine. @livekit/agents kills a job process not initialized within \`initializeProcessTimeout\` (10 s by default) and its job never runs, hence the ${JOB_PROCESS_INIT_TIMEOUT_MS / 1000} s here: a worker that forks a process per job needs an initialize timeout that fits its machine under a burst.`,
    ];
  },
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
      for (const starts of STARTS) {
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

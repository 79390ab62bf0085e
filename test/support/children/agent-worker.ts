/**
 * A LiveKit agent worker in its own process, as in production: a real @livekit/agents
 * AgentServer whose jobs go through `admitAgentJobs` on an Admission of `cap` slots (in
 * memory, or in Redis at REDIS_URL shared with other workers). Configured by the JSON in
 * WORKER_CONFIG; tells its parent over IPC when it registered and what it holds after every
 * job request and load report. Its parent kills its process group to stop it, job processes
 * included.
 */
import { AgentServer, initializeLogger, type JobRequest, ServerOptions } from '@livekit/agents';
import { Redis } from 'ioredis';
import { Admission } from '../../../src/admission/admission.js';
import { memoryStore } from '../../../src/admission/store/memory-store.js';
import { redisStore } from '../../../src/admission/store/redis/redis-store.js';
import { admitAgentJobs } from '../../../src/integrations/livekit-agents.js';
import { ControlledBackend } from '../controlled-backend.js';
import { JOINING_AGENT, type WorkerConfig, type WorkerReport } from '../livekit-agent-worker.js';

const config = JSON.parse(process.env.WORKER_CONFIG!) as WorkerConfig;
/** Sends `report` to the parent; `sent` runs once it is out. */
const send = (report: WorkerReport, sent: () => void = () => undefined): void => {
  process.send?.(report, sent);
};

initializeLogger({ pretty: false, level: 'warn' });
// Job processes are forked with this process's execArgv: they run the plain-JavaScript agent
// module and need no TypeScript loader, which would only slow every job's start.
process.execArgv = [];
const store =
  config.redisUrl === undefined
    ? memoryStore()
    : redisStore({ redis: new Redis(config.redisUrl), name: config.storeName ?? 'agents' });
// The worker's slots: the backend is never asked for a session, only slots are taken. The
// queue holds the job requests that wait for a slot (waitForSlotMs).
const admission = new Admission(new ControlledBackend(), {
  maxConcurrentSessions: config.cap,
  queue: { maxSize: 1_000 },
  health: false,
  telemetry: false,
  store,
});
const jobs = admitAgentJobs(admission, {
  server: { url: config.wsUrl, apiKey: config.apiKey, apiSecret: config.apiSecret },
  ...(config.keyFromJobId ? { idempotencyKey: (job: JobRequest) => job.id } : {}),
  ...(config.waitForSlotMs === undefined ? {} : { waitForSlotMs: config.waitForSlotMs }),
});
let peakHeld = 0;
let loadReports = 0;
let registrations = 0;
const accepted: string[] = [];
const rejected: string[] = [];
const report = (sent?: () => void): void => {
  peakHeld = Math.max(peakHeld, jobs.heldJobs());
  send(
    {
      type: 'state',
      held: jobs.heldJobs(),
      active: admission.active,
      peakHeld,
      accepted,
      rejected,
      loadReports,
      registrations,
    },
    sent,
  );
};

const worker = new AgentServer(
  new ServerOptions({
    agent: JOINING_AGENT,
    wsURL: config.wsUrl,
    apiKey: config.apiKey,
    apiSecret: config.apiSecret,
    agentName: config.agentName,
    numIdleProcesses: config.numIdleProcesses,
    ...(config.initializeProcessTimeout === undefined
      ? {}
      : { initializeProcessTimeout: config.initializeProcessTimeout }),
    host: '127.0.0.1',
    port: 0,
    loadThreshold: jobs.loadThreshold,
    requestFunc: async (job) => {
      // Record the answer the adapter gives.
      const [accept, reject] = [job.accept.bind(job), job.reject.bind(job)];
      job.accept = (...args) => {
        accepted.push(job.id);
        if (config.exitOnAccept) {
          // Dies between deciding to accept (its slot and key taken) and answering.
          report(() => process.exit(0));
          return new Promise<never>(() => undefined);
        }
        return accept(...args);
      };
      job.reject = () => {
        rejected.push(job.id);
        return reject();
      };
      await jobs.requestFunc(job);
      report();
    },
    loadFunc: async (server) => {
      const load = await jobs.loadFunc(server);
      loadReports += 1;
      report();
      return load;
    },
  }),
);
worker.event.on('worker_registered', () => {
  registrations += 1;
  if (registrations === 1) send({ type: 'registered' });
  report();
});
await worker.run();

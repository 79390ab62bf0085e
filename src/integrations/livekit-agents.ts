import type { AgentServer, JobRequest } from '@livekit/agents';
import type { Slot } from '../admission/gate/slot.js';
import { ConfigError } from '../iface/errors.js';
import type { Admission } from '../index.js';
import { describeValue, numberField } from '../internal/validate.js';

export {
  type LatencySink,
  type MetricsSource,
  reportTurnLatency,
  type TurnLatencyOptions,
} from './turn-latency.js';

/** What `job.accept()` is called with. */
export interface AcceptArguments {
  readonly name?: string;
  readonly identity?: string;
  readonly metadata?: string;
  readonly attributes?: Record<string, string>;
}

export interface AgentJobAdmissionOptions {
  /** The tenant a job counts against. Default: `'default'`. */
  readonly tenantOf?: (job: JobRequest) => string;
  /** Arguments for `job.accept()`. Default: none (the worker's defaults). */
  readonly acceptArguments?: (job: JobRequest) => AcceptArguments;
  /**
   * A job accepted but never seen running after this long (its assignment timed out, or it
   * failed to launch) gives its slot back. Default 30 000 ms (the worker waits 15 s for an
   * assignment, then launches the job).
   */
  readonly startTimeoutMs?: number;
}

/** Options to spread into `new WorkerOptions({ agent, ...admitted })`. */
export interface AgentJobAdmission {
  /** Accepts a job only once a slot is reserved for it; rejects it (no waiting) otherwise. */
  readonly requestFunc: (job: JobRequest) => Promise<void>;
  /** Reports admission utilization (slots held / limit) instead of CPU. */
  readonly loadFunc: (worker: AgentServer) => Promise<number>;
  /** 1: the worker reports itself full exactly when every slot is taken. */
  readonly loadThreshold: number;
  /** Jobs holding a slot now. */
  readonly heldJobs: () => number;
}

/** Load reports a started job may be missing from `activeJobs` before its slot is released. */
const MISSING_REPORTS_BEFORE_RELEASE = 2;

interface HeldJob {
  readonly slot: Slot;
  readonly acceptedAt: number;
  /** Seen in the worker's `activeJobs` at least once. */
  started: boolean;
  missing: number;
}

/**
 * Runs a LiveKit agent worker's jobs through an admission. The worker's load becomes the
 * admission's utilization, so it reports FULL exactly at its configured capacity rather than
 * at a CPU reading (a worker at 15 calls with its CPU at 40% is not full). The request guard
 * accepts a job only after reserving its slot, so the cap holds even between load reports.
 *
 * A job's slot is released when the job has left the worker's `activeJobs` for two load
 * reports in a row (the worker reports every 2.5 s; the jobs themselves run in child
 * processes), when it never started within `startTimeoutMs`, or at once if accepting it fails.
 */
export function admitAgentJobs(
  admission: Admission,
  options: AgentJobAdmissionOptions = {},
): AgentJobAdmission {
  if (typeof admission?.acquire !== 'function') {
    throw new ConfigError('admission', `must be an Admission, got ${describeValue(admission)}`);
  }
  const startTimeoutMs = numberField(
    'options.startTimeoutMs',
    options.startTimeoutMs,
    { min: 1 },
    30_000,
  );
  const held = new Map<string, HeldJob>();
  const release = (jobId: string): void => {
    held.get(jobId)?.slot.release();
    held.delete(jobId);
  };

  return {
    loadThreshold: 1,
    heldJobs: () => held.size,
    requestFunc: async (job) => {
      const tenantId = options.tenantOf?.(job) ?? 'default';
      // No waiting: a worker that cannot take the job now lets LiveKit dispatch it elsewhere.
      const slot = await admission.acquire({ tenantId }, { timeoutMs: 0 }).catch(() => undefined);
      if (slot === undefined) {
        await job.reject();
        return;
      }
      held.set(job.id, { slot, acceptedAt: performance.now(), started: false, missing: 0 });
      const args = options.acceptArguments?.(job) ?? {};
      try {
        // Resolves once the worker has answered; the job starts later, in a child process.
        await job.accept(args.name, args.identity, args.metadata, args.attributes);
      } catch (error) {
        release(job.id);
        throw error;
      }
    },
    loadFunc: async (worker) => {
      const running = new Set(worker.activeJobs.map((info) => info.job.id));
      const now = performance.now();
      for (const [jobId, entry] of held) {
        if (running.has(jobId)) {
          entry.started = true;
          entry.missing = 0;
        } else if (
          entry.started
            ? ++entry.missing >= MISSING_REPORTS_BEFORE_RELEASE
            : now - entry.acceptedAt > startTimeoutMs
        ) {
          release(jobId);
        }
      }
      return admission.stats().utilization;
    },
  };
}

import type { AgentServer, JobRequest } from '@livekit/agents';
import type { RoomServiceClient } from 'livekit-server-sdk';
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
   * A job accepted but never seen running after this long gives its slot back: the worker
   * waits 7.5 s for the server's assignment and, without one, never launches the job; a launch
   * can also fail. Default 30 000 ms.
   */
  readonly startTimeoutMs?: number;
  /**
   * The LiveKit server the worker is registered with. With it, a job's slot is released when
   * its agent participant is no longer in the room (the job ended: its process leaves the
   * room when it ends), whatever the worker's `numIdleProcesses`. Without it, only the
   * worker's `activeJobs` is read, which never lets a finished job go when
   * `numIdleProcesses` is 0 (the default outside production mode): give it.
   */
  readonly server?: AgentJobServer;
  /**
   * A key that makes a job idempotent across workers, e.g. `(job) => job.id`, or a key read
   * from the job's metadata. While a job holds its slot, another request with the same key
   * (the same job handed to a second worker after a disconnect) is rejected: through the
   * admission's store (shared with Redis) when it can claim keys, in this worker otherwise.
   */
  readonly idempotencyKey?: (job: JobRequest) => string | undefined;
}

export interface AgentJobServer {
  /** `ws(s)://` or `http(s)://` address of the server. */
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
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
  readonly key: string | undefined;
  readonly roomName: string | undefined;
  /** The agent participant's identity (as `job.accept()` defaults it). */
  readonly identity: string;
  /** Seen running (in the room with `server`, in `activeJobs` without) at least once. */
  started: boolean;
  missing: number;
}

/**
 * Runs a LiveKit agent worker's jobs through an admission. The worker's load becomes the
 * admission's utilization, so it reports FULL exactly at its configured capacity rather than
 * at a CPU reading (a worker at 15 calls with its CPU at 40% is not full). The request guard
 * accepts a job only after reserving its slot, so the cap holds even between load reports.
 *
 * A job's slot is released, checked at each load report (every 2.5 s): with `server`, once
 * its agent participant, seen in the room before, is gone from it (or the room is); without,
 * once the job has left the worker's `activeJobs` for two reports in a row. A job never seen
 * running within `startTimeoutMs` gives its slot back too. `job.accept()` only queues the
 * answer (it resolves at once), so a job the server then assigns elsewhere is one of those.
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
  const presence = options.server === undefined ? undefined : roomPresence(options.server);
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
      const key = options.idempotencyKey?.(job);
      if (key !== undefined && !(await claimKey(admission, slot, key, held))) {
        slot.release();
        await job.reject();
        return;
      }
      const args = options.acceptArguments?.(job) ?? {};
      held.set(job.id, {
        slot,
        acceptedAt: performance.now(),
        key,
        roomName: job.room?.name,
        identity: args.identity || `agent-${job.id}`,
        started: false,
        missing: 0,
      });
      try {
        await job.accept(args.name, args.identity, args.metadata, args.attributes);
      } catch (error) {
        release(job.id);
        throw error;
      }
    },
    loadFunc: async (worker) => {
      const inRoom = presence === undefined ? undefined : await presence([...held.values()]);
      const running = new Set(worker.activeJobs.map((info) => info.job.id));
      const now = performance.now();
      for (const [jobId, entry] of [...held]) {
        const ended =
          inRoom === undefined
            ? endedByActiveJobs(entry, running.has(jobId))
            : endedByPresence(entry, inRoom.get(entry.identity));
        if (ended || (!entry.started && now - entry.acceptedAt > startTimeoutMs)) release(jobId);
      }
      return admission.stats().utilization;
    },
  };
}

/**
 * Ties `key` to the slot's lease in the admission's store, atomically across every worker
 * sharing it; a store that cannot claim keys is checked against this worker's jobs only. A
 * store that cannot be reached refuses the job rather than risk running it twice.
 */
async function claimKey(
  admission: Admission,
  slot: Slot,
  key: string,
  held: ReadonlyMap<string, HeldJob>,
): Promise<boolean> {
  for (const job of held.values()) if (job.key === key) return false;
  const { store } = admission;
  if (store.claim === undefined) return true;
  try {
    return (await store.claim(slot.lease, key)).claimed;
  } catch {
    return false;
  }
}

/** Without the server: a started job missing from two load reports in a row has ended. */
function endedByActiveJobs(entry: HeldJob, running: boolean): boolean {
  if (running) {
    entry.started = true;
    entry.missing = 0;
    return false;
  }
  return entry.started && ++entry.missing >= MISSING_REPORTS_BEFORE_RELEASE;
}

/** With the server: a job whose agent was in the room and is no longer has ended. */
function endedByPresence(entry: HeldJob, present: boolean | undefined): boolean {
  if (present === true) entry.started = true;
  return entry.started && present === false;
}

/**
 * Asks the server which jobs' agents are in their rooms, one ListParticipants per room. A
 * room that is gone counts as absent; any other failure as unknown (the slot is kept).
 */
function roomPresence(
  server: AgentJobServer,
): (jobs: readonly HeldJob[]) => Promise<Map<string, boolean | undefined>> {
  const url = server.url.replace(/^ws/, 'http');
  let client: Promise<RoomServiceClient> | undefined;
  return async (jobs) => {
    client ??= import('livekit-server-sdk').then(
      (sdk) => new sdk.RoomServiceClient(url, server.apiKey, server.apiSecret),
    );
    const rooms = await client;
    const present = new Map<string, boolean | undefined>();
    const names = [...new Set(jobs.map((job) => job.roomName))];
    await Promise.all(
      names.map(async (roomName) => {
        const inRoom = jobs.filter((job) => job.roomName === roomName);
        let identities: Set<string> | undefined;
        try {
          identities =
            roomName === undefined
              ? new Set()
              : new Set(
                  (await rooms.listParticipants(roomName))
                    .filter((p) => p.state !== DISCONNECTED)
                    .map((p) => p.identity),
                );
        } catch (error) {
          identities = (error as { status?: unknown }).status === 404 ? new Set() : undefined;
        }
        for (const job of inRoom) present.set(job.identity, identities?.has(job.identity));
      }),
    );
    return present;
  };
}

/** `ParticipantInfo.State.DISCONNECTED` in livekit/protocol. */
const DISCONNECTED = 3;

import type { AgentServer, JobRequest } from '@livekit/agents';
import type { RoomServiceClient } from 'livekit-server-sdk';
import type { Slot } from '../admission/gate/slot.js';
import { AdmissionError, ConfigError } from '../iface/errors.js';
import type { Admission } from '../index.js';
import { describeValue, durationField, numberField } from '../internal/validate.js';

export {
  type LatencySink,
  type MetricsSource,
  reportTurnLatency,
  type TurnLatencyOptions,
} from './turn-latency.js';

/** What `job.accept()` is called with. */
export interface AcceptArguments {
  readonly name?: string | undefined;
  readonly identity?: string | undefined;
  readonly metadata?: string | undefined;
  readonly attributes?: Record<string, string> | undefined;
}

export interface AgentJobAdmissionOptions {
  /** The tenant a job counts against. Default: `'default'`. */
  readonly tenantOf?: ((job: JobRequest) => string) | undefined;
  /** Arguments for `job.accept()`. Default: none (the worker's defaults). */
  readonly acceptArguments?: ((job: JobRequest) => AcceptArguments) | undefined;
  /**
   * A job accepted but never seen running after this long gives its slot back: the worker
   * waits 7.5 s for the server's assignment and, without one, never launches the job; a launch
   * can also fail. With `server`, only once the server answers about the job: one it cannot be
   * asked about may be running unseen. Default 30 000 ms.
   */
  readonly startTimeoutMs?: number | undefined;
  /**
   * The LiveKit server the worker is registered with. With it, a job's slot is released when
   * its room is gone or its agent participant has left the room (the job ended: its process
   * leaves the room when it ends), whatever the worker's `numIdleProcesses`. Without it, only
   * the worker's `activeJobs` is read, which never lets a finished job go when
   * `numIdleProcesses` is 0 (the default outside production mode): give it.
   */
  readonly server?: AgentJobServer | undefined;
  /**
   * How long a job offered while every slot is taken waits for one (in the admission's queue,
   * which must then have room: `queue.maxSize` > 0) before it is rejected; 0 rejects at once.
   * LiveKit server 1.13.5 gives the worker about 3 s in all to answer an offer (its internal
   * job request times out then, and the job is dropped), so keep it well below that. With a
   * wait, a worker holding every slot reports a load just under the server's target load
   * ({@link ALMOST_FULL} × `serverTargetLoad`) rather than FULL, so the server still offers it
   * jobs (least often among its workers): a call that has just ended (its room deleted, its
   * slot about to come back here) does not make the next job be dropped. Default 1 500 ms.
   */
  readonly waitForSlotMs?: number | undefined;
  /**
   * The server's `agents.target_load` (LiveKit's default 0.7). The server offers a job only
   * while some worker for its agent name reports a load below it (otherwise it drops the job
   * without asking any worker), so the worker reports `utilization × serverTargetLoad`: it
   * reaches the target exactly when every slot is taken.
   */
  readonly serverTargetLoad?: number | undefined;
  /**
   * With `server`, while a job waits for a slot, how often the held jobs are checked (their
   * rooms, their agents), so the slot of a call that has ended comes back at once rather than
   * at the next load report (every 2.5 s). Default 250 ms.
   */
  readonly endCheckIntervalMs?: number | undefined;
  /**
   * A key that makes a job idempotent across workers, e.g. `(job) => job.id`, or a key read
   * from the job's metadata. While a job holds its slot (or is taking one), another request
   * with the same key (the same job offered to a second worker, or a second dispatch for the
   * same call) is rejected: in this worker at once, without waiting for a slot, and across
   * workers through the admission's store (shared with Redis) when it can claim keys.
   */
  readonly idempotencyKey?: ((job: JobRequest) => string | undefined) | undefined;
}

export interface AgentJobServer {
  /** `ws(s)://` or `http(s)://` address of the server. */
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
}

/** Options to spread into `new WorkerOptions({ agent, ...admitted })`. */
export interface AgentJobAdmission {
  /**
   * Accepts a job only once a slot is reserved for it, waiting up to `waitForSlotMs` for one;
   * rejects it otherwise. A job offered again while held here is accepted on the slot it holds
   * (without `idempotencyKey`; with one, it is rejected). Throws, holding no slot, when
   * `tenantOf`, `idempotencyKey` or `acceptArguments` throws or the admission refuses the
   * tenant id as invalid: the worker logs that and rejects the job.
   */
  readonly requestFunc: (job: JobRequest) => Promise<void>;
  /**
   * Reports admission utilization (slots held / limit) scaled to `serverTargetLoad` instead of
   * CPU; with `waitForSlotMs`, a utilization of at most {@link ALMOST_FULL}.
   */
  readonly loadFunc: (worker: AgentServer) => Promise<number>;
  /**
   * `serverTargetLoad`: without `waitForSlotMs`, the worker reports itself full exactly when
   * every slot is taken; with it, never (a full worker waits for a slot instead).
   */
  readonly loadThreshold: number;
  /** Jobs holding a slot now. */
  readonly heldJobs: () => number;
}

/** Load reports a started job may be missing from `activeJobs` before its slot is released. */
const MISSING_REPORTS_BEFORE_RELEASE = 2;

/**
 * The utilization a worker holding every slot reports when it waits for slots: below 1, so
 * its load stays below the server's target load and the server still offers it jobs, least
 * often among its workers.
 */
export const ALMOST_FULL = 0.99;

interface HeldJob {
  readonly slot: Slot;
  readonly acceptedAt: number;
  readonly key: string | undefined;
  readonly roomName: string | undefined;
  /** The room the job was dispatched to: a room of that name with another sid is a new one. */
  readonly roomSid: string | undefined;
  /** The agent participant's identity (as `job.accept()` defaults it). */
  readonly identity: string;
  /** Seen running (in the room with `server`, in `activeJobs` without) at least once. */
  started: boolean;
  missing: number;
}

/**
 * What the server says of a held job's agent: `gone` when its room no longer exists, or exists
 * again under a new sid (re-created by a late join: rooms auto-create on join).
 */
type Presence = 'present' | 'absent' | 'gone' | 'unknown';

/**
 * Runs a LiveKit agent worker's jobs through an admission. The worker's load becomes the
 * admission's utilization, so it reports its load against its configured capacity rather than
 * a CPU reading (a worker at 15 calls with its CPU at 40% is not full). The request guard
 * accepts a job only after reserving its slot, so the cap holds even between load reports.
 *
 * A job offered while every slot is taken waits up to `waitForSlotMs` for one. With `server`,
 * a job's slot is released once its room is gone or its agent participant, seen in the room
 * before, has left it; checked at each load report (every 2.5 s), and at once and then every
 * `endCheckIntervalMs` while a job waits for a slot. Without `server`, once the job has left
 * the worker's `activeJobs` for two load reports in a row. A worker that stops reporting its
 * load (draining, closed) has its jobs checked all the same. A job never seen running within
 * `startTimeoutMs` gives its slot back too.
 * `job.accept()` only queues the answer (it resolves at once), so a job the server then
 * assigns elsewhere is one of those.
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
  const waitForSlotMs = durationField(
    'options.waitForSlotMs',
    options.waitForSlotMs,
    { min: 0 },
    1_500,
  );
  const endCheckIntervalMs = durationField(
    'options.endCheckIntervalMs',
    options.endCheckIntervalMs,
    { min: 1 },
    250,
  );
  const serverTargetLoad = numberField(
    'options.serverTargetLoad',
    options.serverTargetLoad,
    { min: Number.MIN_VALUE, max: 1 },
    0.7,
  );
  const presence = options.server === undefined ? undefined : roomPresence(options.server);
  const held = new Map<string, HeldJob>();
  /**
   * Keys of the jobs held here and of those still taking a slot or claiming: reserved in one
   * step, so that two offers under one key at once cannot both pass the check.
   */
  const keys = new Set<string>();
  const release = (jobId: string): void => {
    const entry = held.get(jobId);
    if (entry === undefined) return;
    held.delete(jobId);
    if (entry.key !== undefined) keys.delete(entry.key);
    entry.slot.release();
  };
  const startTimedOut = (entry: HeldJob, now: number): boolean =>
    !entry.started && now - entry.acceptedAt > startTimeoutMs;

  /**
   * Releases the slots of the jobs that have ended: as the server sees them with `server`,
   * else by `running` (the worker's `activeJobs`, read at load reports only).
   */
  const releaseEnded = async (running: ReadonlySet<string> | undefined): Promise<void> => {
    const seen = presence === undefined ? undefined : await presence(held);
    const now = performance.now();
    for (const [jobId, entry] of [...held]) {
      const where = seen?.get(jobId) ?? 'unknown';
      const ended =
        seen === undefined
          ? running !== undefined && endedByActiveJobs(entry, running.has(jobId))
          : endedByPresence(entry, where);
      // A job the server could not be asked about may be running unseen: it keeps its slot.
      const timedOut = startTimedOut(entry, now) && (seen === undefined || where !== 'unknown');
      if (ended || timedOut) release(jobId);
    }
  };
  const endWatch =
    presence === undefined
      ? undefined
      : watchWhileWaiting(() => releaseEnded(undefined), endCheckIntervalMs);
  const unreported = checkWhenUnreported(
    (worker) => releaseEnded(runningIn(worker)),
    () => held.size > 0,
  );

  /**
   * One acquire per job, waiting up to `waitForSlotMs`: a refusal is reported (event and
   * metric) only for a job that is then rejected, not for one that waits and gets a slot.
   */
  const acquire = async (tenantId: string): Promise<Slot | undefined> => {
    // Every slot held here: a call may just have ended (its room deleted) while this worker
    // still holds it, so its end is checked at once rather than at the next load report.
    const stopWatching =
      waitForSlotMs > 0 && admission.active >= admission.limit ? endWatch?.() : undefined;
    try {
      return await admission
        .acquire({ tenantId }, { timeoutMs: waitForSlotMs })
        .catch((error: unknown) => {
          // A refusal rejects the job. Anything else (a tenant id no store accepts) is a mistake
          // to surface: the worker logs the failure and rejects the job.
          if (error instanceof AdmissionError) return undefined;
          throw error;
        });
    } finally {
      stopWatching?.();
    }
  };

  return {
    loadThreshold: serverTargetLoad,
    heldJobs: () => held.size,
    requestFunc: async (job) => {
      // Read before a slot is taken: one that throws (metadata that is not JSON) holds none.
      const key = options.idempotencyKey?.(job);
      const args = options.acceptArguments?.(job) ?? {};
      const accept = () => job.accept(args.name, args.identity, args.metadata, args.attributes);
      // A job offered again while this worker holds it (its first answer lost with the
      // worker's connection) is accepted on the slot it holds; with a key, it is refused like
      // any second holder of the key.
      const reoffered = () => key === undefined && held.has(job.id);
      if (reoffered()) return accept();
      // A second holder of the key is rejected at once, without waiting for a slot.
      if (key !== undefined && keys.has(key)) return job.reject();
      const tenantId = options.tenantOf?.(job) ?? 'default';
      if (key !== undefined) keys.add(key);
      let slot: Slot | undefined;
      try {
        slot = await acquire(tenantId);
        if (slot !== undefined && key !== undefined && !(await claimKey(admission, slot, key))) {
          slot.release();
          slot = undefined;
        }
      } finally {
        if (slot === undefined && key !== undefined) keys.delete(key);
      }
      if (slot === undefined) {
        // With no other worker for this agent name, the server drops the job.
        await job.reject();
        return;
      }
      if (reoffered()) {
        // Offered twice at once: the other offer took the slot first.
        slot.release();
        return accept();
      }
      held.set(job.id, {
        slot,
        acceptedAt: performance.now(),
        key,
        roomName: job.room?.name,
        roomSid: job.room?.sid || undefined,
        identity: args.identity || `agent-${job.id}`,
        started: false,
        missing: 0,
      });
      try {
        await accept();
      } catch (error) {
        release(job.id);
        throw error;
      }
    },
    loadFunc: async (worker) => {
      unreported.reported(worker);
      await releaseEnded(runningIn(worker));
      const { utilization } = admission.stats();
      return (
        (waitForSlotMs > 0 ? Math.min(utilization, ALMOST_FULL) : utilization) * serverTargetLoad
      );
    },
  };
}

/** How often @livekit/agents 1.9 reports a worker's load (`UPDATE_LOAD_INTERVAL`). */
const LOAD_REPORT_MS = 2_500;

/** The ids of the jobs running in the worker's processes. */
function runningIn(worker: AgentServer): Set<string> {
  return new Set(worker.activeJobs.map((info) => info.job.id));
}

/**
 * Checks the held jobs on when the worker's load reports stop while `pending()`: a draining
 * worker (SIGTERM waits up to an hour for its jobs) or a closed one reports no load, and the
 * slots of its jobs that end meanwhile would otherwise stay taken, in a store shared with
 * other workers too. Armed by each report; after two missed reports, checks every report
 * interval until nothing is pending.
 */
function checkWhenUnreported(
  check: (worker: AgentServer) => Promise<void>,
  pending: () => boolean,
): { reported(worker: AgentServer): void } {
  let worker: AgentServer | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (delayMs: number): void => {
    clearTimeout(timer);
    timer = setTimeout(run, delayMs).unref();
  };
  const run = (): void => {
    timer = undefined;
    if (worker === undefined || !pending()) return;
    check(worker)
      .catch(() => {
        // An unknown answer keeps every slot; the next check tries again.
      })
      .finally(() => {
        if (timer === undefined && pending()) arm(LOAD_REPORT_MS);
      });
  };
  return {
    reported(next) {
      worker = next;
      arm(2 * LOAD_REPORT_MS);
    },
  };
}

/**
 * Runs `check` at once and then every `intervalMs` for as long as anyone watches (each call
 * returns its stop), never two at a time.
 */
function watchWhileWaiting(check: () => Promise<void>, intervalMs: number): () => () => void {
  let watchers = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (): void => {
    timer = undefined;
    if (watchers === 0) return;
    check()
      .catch(() => {
        // An unknown answer keeps every slot; the next check or load report tries again.
      })
      .finally(() => {
        if (watchers > 0 && timer === undefined) timer = setTimeout(run, intervalMs).unref();
      });
  };
  return () => {
    watchers += 1;
    if (watchers === 1) run();
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      watchers -= 1;
      if (watchers === 0 && timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
    };
  };
}

/**
 * Ties `key` to the slot's lease in the admission's store, atomically across every worker
 * sharing it; a store that cannot claim keys leaves the check to this worker's own keys. A
 * store that cannot be reached refuses the job rather than risk running it twice.
 */
async function claimKey(admission: Admission, slot: Slot, key: string): Promise<boolean> {
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

/**
 * With the server: a job whose room is gone has ended (the server dispatches a job only into
 * a room that exists, and ends its jobs with it), and so has one whose agent was in the room
 * and is no longer.
 */
function endedByPresence(entry: HeldJob, presence: Presence): boolean {
  if (presence === 'present') entry.started = true;
  return presence === 'gone' || (entry.started && presence === 'absent');
}

/**
 * Asks the server where held jobs' agents are, by job id (jobs in different rooms may share
 * an agent identity): one ListRooms for which rooms still exist, then one ListParticipants per
 * room that does. A failed call, or a job without a room, counts as unknown (the slot is kept).
 */
function roomPresence(
  server: AgentJobServer,
): (jobs: ReadonlyMap<string, HeldJob>) => Promise<Map<string, Presence>> {
  const url = server.url.replace(/^ws/, 'http');
  let client: Promise<RoomServiceClient> | undefined;
  return async (jobs) => {
    client ??= import('livekit-server-sdk').then(
      (sdk) => new sdk.RoomServiceClient(url, server.apiKey, server.apiSecret),
    );
    const rooms = await client;
    const seen = new Map<string, Presence>();
    const names = [...new Set([...jobs.values()].flatMap((job) => job.roomName ?? []))];
    // Room name to sid, for the rooms that exist (ListParticipants answers an empty list, not
    // an error, for a room the server has not).
    const existing =
      names.length === 0
        ? new Map<string, string>()
        : await rooms.listRooms(names).then(
            (found) => new Map(found.map((room) => [room.name, room.sid])),
            () => undefined,
          );
    if (existing === undefined) return seen;
    await Promise.all(
      names.map(async (roomName) => {
        const sid = existing.get(roomName);
        const identities =
          sid === undefined
            ? undefined
            : await rooms.listParticipants(roomName).then(
                (list) =>
                  new Set(list.filter((p) => p.state !== DISCONNECTED).map((p) => p.identity)),
                () => undefined,
              );
        for (const [jobId, job] of jobs) {
          if (job.roomName === roomName) seen.set(jobId, presenceIn(job, sid, identities));
        }
      }),
    );
    return seen;
  };
}

/** A job's presence in the room named like its own, `sid` undefined when there is none. */
function presenceIn(
  job: HeldJob,
  sid: string | undefined,
  identities: ReadonlySet<string> | undefined,
): Presence {
  if (sid === undefined || (job.roomSid !== undefined && job.roomSid !== sid)) return 'gone';
  if (identities === undefined) return 'unknown';
  return identities.has(job.identity) ? 'present' : 'absent';
}

/** `ParticipantInfo.State.DISCONNECTED` in livekit/protocol. */
const DISCONNECTED = 3;

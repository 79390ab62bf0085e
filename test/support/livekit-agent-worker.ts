import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The trivial agent: joins the room, publishes nothing. */
export const JOINING_AGENT = fileURLToPath(
  new URL('./children/livekit-joining-agent.mjs', import.meta.url),
);

const WORKER_SCRIPT = fileURLToPath(new URL('./children/agent-worker.ts', import.meta.url));

export interface WorkerConfig {
  readonly wsUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Explicit dispatch only. */
  readonly agentName: string;
  readonly numIdleProcesses: number;
  /** Slots of the worker's admission. */
  readonly cap: number;
  /** A shared Redis store instead of one in memory. */
  readonly redisUrl?: string;
  readonly storeName?: string;
  /** Claims each job's id as an idempotency key in the store. */
  readonly keyFromJobId?: boolean;
  /**
   * Exits at its first accept, before the answer is sent: the server sees the worker's
   * connection close while it waits for the answer, and offers the same job to another worker.
   */
  readonly exitOnAccept?: boolean;
  /** `admitAgentJobs`' `waitForSlotMs` (its default when absent). */
  readonly waitForSlotMs?: number;
  /**
   * The worker's `initializeProcessTimeout` (@livekit/agents' default 10 s when absent): a job
   * process not initialized by then is killed and its job never runs.
   */
  readonly initializeProcessTimeout?: number;
}

export type WorkerReport =
  | { readonly type: 'registered' }
  | {
      readonly type: 'state';
      /** Jobs holding a slot now, and the most ever. */
      readonly held: number;
      readonly peakHeld: number;
      /** The admission's active slots. */
      readonly active: number;
      readonly accepted: readonly string[];
      readonly rejected: readonly string[];
      /**
       * How many times the worker has computed its load. The worker sends each load to the
       * server right after computing it, so once this count has moved on twice past a state,
       * the server has been told the load of that state.
       */
      readonly loadReports: number;
      /** Registrations acknowledged by the server (a worker registers again after a reconnect). */
      readonly registrations: number;
    };

type State = Extract<WorkerReport, { type: 'state' }>;

export interface AgentWorkerProcess {
  /** The last state it reported. */
  state(): State;
  /** Resolves at the first report (past or future) for which `check` holds. */
  until(check: (state: State) => boolean): Promise<State>;
  /** The last of what it and its job processes printed, for a failure's message. */
  output(): string;
  /** Kills the worker and its job processes. */
  stop(): Promise<void>;
}

const EMPTY: State = {
  type: 'state',
  held: 0,
  peakHeld: 0,
  active: 0,
  accepted: [],
  rejected: [],
  loadReports: 0,
  registrations: 0,
};

/**
 * Starts a real @livekit/agents worker in a process of its own (children/agent-worker.ts),
 * resolving once the server acknowledged its registration. It is stopped by killing its
 * process group rather than with @livekit/agents 1.9's `close()`, which waits
 * `shutdownProcessTimeout` (60 s by default) for any job process still initializing: close()
 * asks each job process to shut down and waits that long for the acknowledgement before
 * killing it (ipc/supervised_proc.js, closeOnce), and a process still initializing has not
 * attached the handler that acknowledges it (ipc/job_proc_lazy_main.js). Measured with
 * `numIdleProcesses: 1` on the real server: close() right after registration (the idle process
 * initializing) took 60.1 s, 3.1 s with `shutdownProcessTimeout: 3000`, and 53 ms once the
 * idle process had initialized. With `numIdleProcesses` ≥ 1 a new idle process is
 * initializing after each job starts.
 */
export async function startAgentWorker(config: WorkerConfig): Promise<AgentWorkerProcess> {
  const child: ChildProcess = fork(WORKER_SCRIPT, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, WORKER_CONFIG: JSON.stringify(config) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // A test process that dies without stopping it must not leave the worker running.
  const killOnExit = (): void => {
    process.kill(-child.pid!, 'SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let output = '';
  // @livekit/agents logs to stdout (a job that failed to launch, e.g.), Node to stderr.
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let state = EMPTY;
  const waiters = new Set<{ check: (s: State) => boolean; resolve: (s: State) => void }>();
  child.on('message', (message: WorkerReport) => {
    if (message.type !== 'state') return;
    state = message;
    for (const waiter of waiters) {
      if (waiter.check(state)) {
        waiters.delete(waiter);
        waiter.resolve(state);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: WorkerReport) => {
      if (message.type === 'registered') resolve();
    });
    child.once('exit', (code) => reject(new Error(`agent worker exited (${code}): ${output}`)));
  });
  return {
    state: () => state,
    output: () => output,
    until: (check) =>
      check(state)
        ? Promise.resolve(state)
        : new Promise((resolve) => waiters.add({ check, resolve })),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // The whole group: the worker and the job processes it forked.
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

import type { AdaptiveLimit } from '../admission/adaptive/adaptive-limit.js';
import { Admission } from '../admission/admission.js';
import type { AdmissionOptions } from '../admission/options.js';
import { AdmissionError, BackendError } from '../iface/errors.js';
import type { VoiceSession } from '../iface/session.js';
import type { SimulatedProviderConfig } from '../providers/simulated/config.js';
import { SimulatedBackend } from '../providers/simulated/simulated-backend.js';
import { ProgressBar } from './progress.js';
import { formatMs, table } from './stats.js';

/** A burst like the ones users report: many callers at once, a few tenants of unequal size. */
export interface DemoScenario {
  readonly requests: number;
  readonly tenants: Readonly<Record<string, number>>;
  readonly simulation: SimulatedProviderConfig;
}

export const DEFAULT_SCENARIO: DemoScenario = {
  requests: 600,
  tenants: { acme: 0.5, globex: 0.25, initech: 0.15, umbrella: 0.1 },
  simulation: {
    setupLatencyMs: 60,
    setupCapacity: 20,
    contentionExponent: 1.5,
    overloadFailureRate: 0.3,
    setupTimeoutMs: 3_000,
    sessionDurationMs: { min: 400, max: 800 },
    seed: 7,
  },
};

/**
 * The most requests a demo burst takes. Past the cap and the queue (1 100) Admission refuses
 * the rest at once, so more show nothing new; each request is held in memory until the end
 * (10 000 take about 15 s and 200 MB, a million run out of heap).
 */
export const MAX_DEMO_REQUESTS = 10_000;

/** The Admission the demo's second run goes through. */
const DEMO_ADMISSION = {
  maxConcurrentSessions: 100,
  tenants: { defaultMax: 40, max: { acme: 60 } },
  queue: { maxSize: 1_000, maxPerTenant: 400, timeoutMs: 15_000 },
  setup: { concurrency: 20, perSecond: 200 },
  health: { intervalMs: 1_000 },
} as const satisfies AdmissionOptions;

export interface RunReport {
  readonly label: string;
  readonly requested: number;
  readonly admitted: number;
  /** Requests that waited in the admission queue before their slot. */
  readonly queued: number;
  readonly refused: Readonly<Record<string, number>>;
  readonly setupFailures: number;
  readonly joinMs: readonly number[];
  readonly peakActive: number;
  readonly cap: number | undefined;
  readonly wallMs: number;
}

/** Called after each request has its answer (joined, failed or refused). */
export type OnAnswered = (answered: number) => void;

/** Fires every request at once straight at the backend, as code without admission does. */
export async function runWithoutAdmission(
  scenario: DemoScenario,
  onAnswered: OnAnswered = () => {},
): Promise<RunReport> {
  const backend = new SimulatedBackend({ providerConfig: scenario.simulation });
  await backend.start();
  const started = performance.now();
  const joinMs: number[] = [];
  let setupFailures = 0;
  let answered = 0;
  await Promise.all(
    tenantSequence(scenario).map(async (tenantId, i) => {
      const t0 = performance.now();
      try {
        await backend.createSession({ userId: `caller-${i}`, tenantId });
        joinMs.push(performance.now() - t0);
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        setupFailures++;
      }
      onAnswered(++answered);
    }),
  );
  const sessions = backend.listSessions();
  await Promise.all(sessions.map((s) => s.closed));
  const report = finish(
    'no admission',
    scenario,
    backend,
    started,
    joinMs,
    {},
    setupFailures,
    0,
    undefined,
  );
  await backend.stop();
  return report;
}

/** What a run through `Admission` may change from the demo's own settings. */
export interface AdmissionRun {
  /** The run's name in reports. Default `Admission`. */
  readonly label?: string;
  /**
   * Concurrent setups in place of the demo's, which is the simulation's hidden capacity: a
   * guess too low or too high, or an adaptive limit, shows what not knowing it costs.
   */
  readonly setupConcurrency?: number | AdaptiveLimit;
  readonly onAnswered?: OnAnswered;
}

/** The same burst through `Admission`: cap, tenant caps, a queue and setup smoothing. */
export async function runWithAdmission(
  scenario: DemoScenario,
  run: AdmissionRun = {},
): Promise<RunReport> {
  const onAnswered = run.onAnswered ?? (() => {});
  const backend = new SimulatedBackend({ providerConfig: scenario.simulation });
  await backend.start();
  const cap = DEMO_ADMISSION.maxConcurrentSessions;
  const admission = new Admission(backend, {
    ...DEMO_ADMISSION,
    setup: {
      ...DEMO_ADMISSION.setup,
      concurrency: run.setupConcurrency ?? DEMO_ADMISSION.setup.concurrency,
    },
  });
  let queued = 0;
  admission.on('queued', () => queued++);
  const refused: Record<string, number> = {};
  let setupFailures = 0;
  const joinMs: number[] = [];
  const started = performance.now();
  const sessions: VoiceSession[] = [];
  let answered = 0;
  await Promise.all(
    tenantSequence(scenario).map(async (tenantId, i) => {
      const t0 = performance.now();
      try {
        sessions.push(await admission.createSession({ userId: `caller-${i}`, tenantId }));
        joinMs.push(performance.now() - t0);
      } catch (error) {
        if (error instanceof AdmissionError) refused[error.code] = (refused[error.code] ?? 0) + 1;
        else if (error instanceof BackendError) setupFailures++;
        else throw error;
      }
      onAnswered(++answered);
    }),
  );
  await Promise.all(sessions.map((s) => s.closed));
  const report = finish(
    run.label ?? 'Admission',
    scenario,
    backend,
    started,
    joinMs,
    refused,
    setupFailures,
    queued,
    cap,
  );
  await admission.drain({ timeoutMs: 1_000 });
  await backend.stop();
  return report;
}

/**
 * The time by which `p` percent of all requests had joined: a request that never joined
 * counts as never, so both runs are measured over the same requests. NaN when fewer joined.
 */
export function joinedWithin(report: RunReport, p: number): number {
  const rank = Math.ceil((p / 100) * report.requested);
  if (rank > report.joinMs.length) return Number.NaN;
  return [...report.joinMs].sort((a, b) => a - b)[Math.max(rank, 1) - 1]!;
}

const within = (ms: number): string => (Number.isNaN(ms) ? 'never' : formatMs(ms));
const total = (counts: Readonly<Record<string, number>>): number =>
  Object.values(counts).reduce((a, b) => a + b, 0);

/** What each column counts, printed under the table. */
const LEGEND = `joined   requests whose session was set up, of all requests
waited   requests that queued in Admission for a slot before their setup
refused  requests Admission turned away, at once or after waiting
failed   setups the backend failed or gave up on (the caller got an error)
p50/p90  time until half / 90% of ALL requests had joined ("never": fewer did)
peak     most sessions open at once, against the cap when there is one`;

/** The comparison table (under 80 columns), its legend and the refusals by reason. */
export function formatReports(reports: readonly RunReport[]): string {
  const rows = reports.map((r) => [
    r.label,
    `${r.admitted}/${r.requested}`,
    String(r.queued),
    String(total(r.refused)),
    String(r.setupFailures),
    within(joinedWithin(r, 50)),
    within(joinedWithin(r, 90)),
    r.cap === undefined ? String(r.peakActive) : `${r.peakActive}/${r.cap}`,
  ]);
  const reasons = reports
    .filter((r) => total(r.refused) > 0)
    .map(
      (r) =>
        `refused by ${r.label}: ${Object.entries(r.refused)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ')}`,
    );
  return [
    table(['run', 'joined', 'waited', 'refused', 'failed', 'p50', 'p90', 'peak'], rows),
    ...reasons,
    '',
    LEGEND,
  ].join('\n');
}

/** One line (under 80 columns): what going through Admission changed. */
export function summarize(bare: RunReport, admitted: RunReport): string {
  return (
    `With Admission: ${admitted.admitted}/${admitted.requested} joined (without: ${bare.admitted}), ` +
    `${admitted.setupFailures} setups failed (without: ${bare.setupFailures}).`
  );
}

/**
 * `voice-admission demo`: describes the scenario, runs the burst both ways with progress
 * (a bar on a terminal, a line per run otherwise), then prints the table, what its columns
 * count, and the one-line verdict.
 */
export async function runDemo(scenario: DemoScenario, out: NodeJS.WriteStream): Promise<void> {
  const { simulation, requests } = scenario;
  const { tenants, setup } = DEMO_ADMISSION;
  // A small burst reaches only the first tenants of the sequence: count those it has.
  const senders = new Set(tenantSequence(scenario)).size;
  const burst = requests === 1 ? 'One request' : `A burst of ${requests} simultaneous requests`;
  out.write(
    `Simulated backend, no media: setup ${simulation.setupLatencyMs} ms, slower past ` +
      `${simulation.setupCapacity} setups\nat once; a join slower than ` +
      `${simulation.setupTimeoutMs} ms fails. ${burst}\nfrom ${counted(senders, 'tenant')}, ` +
      `sent twice: straight to the backend, then through Admission\n` +
      `(cap ${DEMO_ADMISSION.maxConcurrentSessions}, ` +
      `tenant caps ${tenants.max.acme}/${tenants.defaultMax}, a queue, ` +
      `${setup.concurrency} setups at once).\n\n`,
  );
  const bare = await withProgress(out, 'without admission', scenario.requests, (onAnswered) =>
    runWithoutAdmission(scenario, onAnswered),
  );
  const admitted = await withProgress(out, 'through Admission', scenario.requests, (onAnswered) =>
    runWithAdmission(scenario, { onAnswered }),
  );
  out.write(`\n${formatReports([bare, admitted])}\n\n${summarize(bare, admitted)}\n`);
}

async function withProgress(
  out: NodeJS.WriteStream,
  label: string,
  requests: number,
  run: (onAnswered: OnAnswered) => Promise<RunReport>,
): Promise<RunReport> {
  const bar = new ProgressBar(out, requests);
  const report = await run((answered) => bar.update(answered, label));
  out.write(
    `${label}: ${counted(requests, 'request')}, all sessions over after ${formatMs(report.wallMs)}\n`,
  );
  return report;
}

/** `1 request`, `2 requests`. */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function finish(
  label: string,
  scenario: DemoScenario,
  backend: SimulatedBackend,
  started: number,
  joinMs: number[],
  refused: Record<string, number>,
  setupFailures: number,
  queued: number,
  cap: number | undefined,
): RunReport {
  return {
    label,
    requested: scenario.requests,
    admitted: joinMs.length,
    queued,
    refused,
    setupFailures,
    joinMs,
    peakActive: backend.simulationStats().peakOpenSessions,
    cap,
    wallMs: performance.now() - started,
  };
}

/** Deterministic tenant for each request, in the scenario's proportions, interleaved. */
function tenantSequence(scenario: DemoScenario): string[] {
  const entries = Object.entries(scenario.tenants);
  const credit = new Map(entries.map(([t]) => [t, 0]));
  const out: string[] = [];
  for (let i = 0; i < scenario.requests; i++) {
    let best = entries[0]![0];
    for (const [tenant, share] of entries) {
      credit.set(tenant, credit.get(tenant)! + share);
      if (credit.get(tenant)! > credit.get(best)!) best = tenant;
    }
    credit.set(best, credit.get(best)! - 1);
    out.push(best);
  }
  return out;
}

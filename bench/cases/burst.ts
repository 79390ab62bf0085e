import pLimit from 'p-limit';
import { adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import {
  type AdmissionRun,
  DEFAULT_SCENARIO,
  type DemoScenario,
  type RunReport,
  runWithAdmission,
  runWithoutAdmission,
} from '../../src/cli/demo.js';
import { formatMs, percentile } from '../../src/cli/stats.js';
import { BackendError } from '../../src/iface/errors.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import type { BenchCase, Row } from '../measure.js';

const CAP = 100;
/** What the simulation can set up at once before setups slow down and fail; hidden. */
const HIDDEN_CAPACITY = DEFAULT_SCENARIO.simulation.setupCapacity!;
/**
 * Calls long enough to still be running when the burst's last setups finish: what makes
 * check-then-create overshoot the cap.
 */
const CALL_MS = { min: 1_500, max: 2_500 } as const;
/** The demo's burst, with those calls. */
const SCENARIO: DemoScenario = {
  ...DEFAULT_SCENARIO,
  simulation: { ...DEFAULT_SCENARIO.simulation, sessionDurationMs: CALL_MS },
};

/**
 * Runs every request at once straight against the backend, `attempt(backend, i)` deciding
 * how: it says whether the request joined or was refused by the caller's own check; a
 * BackendError counts as a failed setup.
 */
async function straight(
  label: string,
  cap: number | undefined,
  attempt: (backend: SimulatedBackend, i: number) => Promise<'joined' | 'refused'>,
): Promise<RunReport> {
  const backend = new SimulatedBackend({ providerConfig: SCENARIO.simulation });
  await backend.start();
  const started = performance.now();
  const joinMs: number[] = [];
  const refused: Record<string, number> = {};
  let setupFailures = 0;
  await Promise.all(
    Array.from({ length: SCENARIO.requests }, async (_, i) => {
      const t0 = performance.now();
      try {
        const outcome = await attempt(backend, i);
        if (outcome === 'joined') joinMs.push(performance.now() - t0);
        else refused.capacity = (refused.capacity ?? 0) + 1;
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        setupFailures++;
      }
    }),
  );
  await Promise.all(backend.listSessions().map((s) => s.closed));
  const report: RunReport = {
    label,
    requested: SCENARIO.requests,
    admitted: joinMs.length,
    queued: 0,
    refused,
    setupFailures,
    joinMs,
    peakActive: backend.simulationStats().peakOpenSessions,
    cap,
    wallMs: performance.now() - started,
  };
  await backend.stop();
  return report;
}

/**
 * The Go pattern: check the count and the health, then create. Every caller that checks
 * before the others' creates land sees room, so a burst overshoots the cap.
 */
function checkThenCreate(): Promise<RunReport> {
  return straight('check-then-create', CAP, async (backend, i) => {
    const health = await backend.healthCheck();
    if (backend.getActiveSessionCount() >= CAP || !health.healthy) return 'refused';
    await backend.createSession({ userId: `caller-${i}` });
    return 'joined';
  });
}

/**
 * The plain alternative: one p-limit on sessions, held until the call ends, and one on
 * setups inside it. `setups` undefined: no limit on setups.
 */
function pLimited(setups: number | undefined): Promise<RunReport> {
  const sessions = pLimit(CAP);
  const setupLimit = setups === undefined ? undefined : pLimit(setups);
  const label = `p-limit(${CAP})${setups === undefined ? '' : ` + p-limit(${setups})`}`;
  return straight(label, CAP, (backend, i) =>
    sessions(async () => {
      const create = () => backend.createSession({ userId: `caller-${i}` });
      const session = await (setupLimit === undefined ? create() : setupLimit(create));
      // The outer slot is the session's: it is freed when the call ends.
      await session.closed;
      return 'joined' as const;
    }),
  );
}

const TARGET = `peak <= ${CAP}, no failures`;

function rows(group: string, report: RunReport, anchor: RunReport, targeted: boolean): Row[] {
  const p99 = percentile(report.joinMs, 99);
  const oversubscribed =
    report.cap === undefined ? '' : `, ${Math.max(0, report.peakActive - report.cap)} over the cap`;
  return [
    {
      group,
      name: `${report.label}: join p50 / p90 / p99`,
      value: [50, 90, 99].map((p) => formatMs(percentile(report.joinMs, p))).join(' / '),
      ratio: `p99 ${(p99 / percentile(anchor.joinMs, 99)).toFixed(2)}x`,
    },
    {
      group,
      name: `${report.label}: joined, setup failures, peak active`,
      value: `${report.admitted} joined, ${report.setupFailures} failed, peak ${report.peakActive}${oversubscribed}`,
      ratio: `${(report.admitted / Math.max(1, anchor.admitted)).toFixed(2)}x joined`,
      ...(targeted
        ? { target: TARGET, met: report.peakActive <= CAP && report.setupFailures === 0 }
        : {}),
    },
  ];
}

/** Admission with its setup concurrency right, wrong both ways, and found by itself. */
const ADMISSION_RUNS: (() => AdmissionRun)[] = [
  () => ({ label: `Admission, setups ${HIDDEN_CAPACITY} (the hidden capacity)` }),
  () => ({ label: 'Admission, setups 10 (too low)', setupConcurrency: 10 }),
  () => ({ label: 'Admission, setups 60 (too high)', setupConcurrency: 60 }),
  () => ({
    label: 'Admission, setups adaptive AIMD',
    setupConcurrency: adaptive({ min: 1, max: CAP, initial: 5, algorithm: 'aimd' }),
  }),
  () => ({
    label: 'Admission, setups adaptive gradient',
    setupConcurrency: adaptive({ min: 1, max: CAP, initial: 5, algorithm: 'gradient' }),
  }),
];

export const burst: BenchCase = {
  name: `burst model: ${SCENARIO.requests} simultaneous starts, cap ${CAP}, setup capacity ${HIDDEN_CAPACITY} hidden in the simulation`,
  command: 'npm run bench -- burst',
  notes: () => [
    `Every start comes at once against the simulated backend, whose setups slow down and fail past ${HIDDEN_CAPACITY} at once (the hidden capacity); calls last ${CALL_MS.min / 1000}–${CALL_MS.max / 1000} s. "no admission" creates straight away. "check-then-create" first checks the session count and the health, as a hand-written service would: every caller checks before the others' creates land, so the burst goes over the cap. The p-limit rows hold a p-limit(${CAP}) slot for the whole call and put a second p-limit around the setup. Admission runs with its setup limit at the hidden capacity, below it, above it and adaptive, so its result does not depend on knowing the capacity. Ratios are against no admission: join p99, and sessions joined.`,
  ],
  async run(): Promise<Row[]> {
    const bare = await runWithoutAdmission(SCENARIO);
    const group = this.name;
    const out = rows(group, bare, bare, false);
    out.push(...rows(group, await checkThenCreate(), bare, false));
    for (const setups of [HIDDEN_CAPACITY, 10, 60, undefined]) {
      out.push(...rows(group, await pLimited(setups), bare, false));
    }
    for (const makeRun of ADMISSION_RUNS) {
      out.push(...rows(group, await runWithAdmission(SCENARIO, makeRun()), bare, true));
    }
    return out;
  },
};

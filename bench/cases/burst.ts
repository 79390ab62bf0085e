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
import {
  type Contenders,
  type Figures,
  figure,
  formatSpread,
  interleaved,
  ratioSpread,
  type Spread,
  times,
} from '../isolated.js';
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
  return straight(CHECK_THEN_CREATE, CAP, async (backend, i) => {
    const health = await backend.healthCheck();
    if (backend.getActiveSessionCount() >= CAP || !health.healthy) return 'refused';
    await backend.createSession({ userId: `caller-${i}` });
    return 'joined';
  });
}

/** Setup limits of the p-limit contenders: the hidden capacity, too low, too high, none. */
const P_LIMITS = [HIDDEN_CAPACITY, 10, 60, undefined] as const;

function pLimitLabel(setups: number | undefined): string {
  return `p-limit(${CAP})${setups === undefined ? '' : ` + p-limit(${setups})`}`;
}

/**
 * The plain alternative: one p-limit on sessions, held until the call ends, and one on
 * setups inside it. `setups` undefined: no limit on setups.
 */
function pLimited(setups: number | undefined): Promise<RunReport> {
  const sessions = pLimit(CAP);
  const setupLimit = setups === undefined ? undefined : pLimit(setups);
  return straight(pLimitLabel(setups), CAP, (backend, i) =>
    sessions(async () => {
      const create = () => backend.createSession({ userId: `caller-${i}` });
      const session = await (setupLimit === undefined ? create() : setupLimit(create));
      // The outer slot is the session's: it is freed when the call ends.
      await session.closed;
      return 'joined' as const;
    }),
  );
}

const TARGET = `peak <= ${CAP}, no failures, every round`;
const ROUNDS = 5;

/** What one run of one contender comes to, as numbers (each contender runs in its own process). */
function figuresOf(report: RunReport): Figures {
  return {
    p50: percentile(report.joinMs, 50),
    p90: percentile(report.joinMs, 90),
    p99: percentile(report.joinMs, 99),
    joined: report.admitted,
    failed: report.setupFailures,
    peak: report.peakActive,
    overCap: report.cap === undefined ? 0 : Math.max(0, report.peakActive - report.cap),
  };
}

const NO_ADMISSION = 'no admission';
const CHECK_THEN_CREATE = 'check-then-create';
/** Admission with its setup concurrency right, wrong both ways, and found by itself. */
const ADMISSION_RUNS: Record<string, () => AdmissionRun> = {
  [`Admission, setups ${HIDDEN_CAPACITY} (the hidden capacity)`]: () => ({}),
  'Admission, setups 10 (too low)': () => ({ setupConcurrency: 10 }),
  'Admission, setups 60 (too high)': () => ({ setupConcurrency: 60 }),
  'Admission, setups adaptive AIMD': () => ({
    setupConcurrency: adaptive({ min: 1, max: CAP, initial: 5, algorithm: 'aimd' }),
  }),
  'Admission, setups adaptive gradient': () => ({
    setupConcurrency: adaptive({ min: 1, max: CAP, initial: 5, algorithm: 'gradient' }),
  }),
};
const CAPPED = new Set([CHECK_THEN_CREATE, ...P_LIMITS.map(pLimitLabel)]);

/** Each runs in its own process (bench/child.ts). */
export const contenders: Contenders = {
  [NO_ADMISSION]: async () => figuresOf(await runWithoutAdmission(SCENARIO)),
  [CHECK_THEN_CREATE]: async () => figuresOf(await checkThenCreate()),
  ...Object.fromEntries(
    P_LIMITS.map((setups) => [pLimitLabel(setups), async () => figuresOf(await pLimited(setups))]),
  ),
  ...Object.fromEntries(
    Object.entries(ADMISSION_RUNS).map(([label, makeRun]) => [
      label,
      async () => figuresOf(await runWithAdmission(SCENARIO, { ...makeRun(), label })),
    ]),
  ),
};

export const burst: BenchCase = {
  name: `burst model: ${SCENARIO.requests} simultaneous starts, cap ${CAP}, setup capacity ${HIDDEN_CAPACITY} hidden in the simulation (own process)`,
  command: 'npm run bench -- burst',
  notes: () => [
    `Every start comes at once against the simulated backend, whose setups slow down and fail past ${HIDDEN_CAPACITY} at once (the hidden capacity); calls last ${CALL_MS.min / 1000}–${CALL_MS.max / 1000} s. "no admission" creates straight away. "check-then-create" first checks the session count and the health, as a hand-written service would: every caller checks before the others' creates land, so the burst goes over the cap. The p-limit rows hold a p-limit(${CAP}) slot for the whole call and put a second p-limit around the setup. Admission runs with its setup limit at the hidden capacity, below it, above it and adaptive, so its result does not depend on knowing the capacity. Ratios are against no admission, round by round: join p99, and sessions joined.`,
    `Each contender runs in its own process, ${ROUNDS} rounds; the model waits on timers (a few percent of a CPU per process), so a round starts every contender's process, waits until all have loaded and lets them run at once, under the same conditions. Figures are medians with the range across rounds in brackets; a target is met only if every round met it.`,
  ],
  async run(): Promise<Row[]> {
    const names = Object.keys(contenders);
    const samples = await interleaved(import.meta.url, names, ROUNDS, { together: true });
    const group = this.name;
    const ms = (s: Spread): string => formatSpread(s, formatMs);
    const count = (s: Spread): string => formatSpread(s, String);
    return names.flatMap((name): Row[] => {
      const rounds = samples.get(name)!;
      const at = (key: string): Spread => figure(samples, name, key);
      const targeted = name in ADMISSION_RUNS;
      const overCap = CAPPED.has(name) || targeted ? `, ${count(at('overCap'))} over the cap` : '';
      return [
        {
          group,
          name: `${name}: join p50 / p90 / p99`,
          value: `${formatMs(at('p50').median)} / ${formatMs(at('p90').median)} / ${ms(at('p99'))}`,
          ratio: `p99 ${formatSpread(ratioSpread(samples, name, NO_ADMISSION, 'p99'), times)}`,
        },
        {
          group,
          name: `${name}: joined, setup failures, peak active`,
          value: `${count(at('joined'))} joined, ${count(at('failed'))} failed, peak ${count(at('peak'))}${overCap}`,
          ratio: `${formatSpread(ratioSpread(samples, name, NO_ADMISSION, 'joined'), times)} joined`,
          ...(targeted
            ? {
                target: TARGET,
                met: rounds.every((round) => round.peak! <= CAP && round.failed === 0),
              }
            : {}),
        },
      ];
    });
  },
};

import { writeFileSync } from 'node:fs';
import { type AdaptiveLimit, adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import { Admission } from '../../src/admission/admission.js';
import { percentile } from '../../src/cli/stats.js';
import type { SimulatedProviderConfig } from '../../src/providers/simulated/config.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import {
  type Contenders,
  type Figures,
  figure,
  formatSpread,
  interleaved,
  type Spread,
  spread,
  times,
} from '../isolated.js';
import type { BenchCase, Row } from '../measure.js';
import { lineChart } from '../plot.js';

/**
 * Time runs compressed: one simulated second lasts SCALE real milliseconds, so 15 simulated
 * minutes take a few real seconds. Latencies are model figures (reported, never waited), in
 * real milliseconds.
 */
const SCALE = 5;
const PHASE_S = 300;
const PHASES = ['capacity 40', 'halved to 20', 'restored to 40'] as const;
const CAPACITY = 40;
const TARGET_MS = 1_000;
/** Callers arriving per simulated second: always more than any limit here can take. */
const ARRIVALS_PER_S = 4;
/** Seconds the bench measures each p95 window over. */
const WINDOW_S = 5;
/** How long a call lasts, in simulated seconds, and how often it takes a turn. */
const CALL_S = { min: 20, max: 40 } as const;
const TURN_EVERY_S = 4;

const SIMULATION: SimulatedProviderConfig = {
  setupLatencyMs: 0.2 * SCALE,
  setupCapacity: 1_000,
  jitter: 0.2,
  overloadFailureRate: 0,
  sessionDurationMs: { min: CALL_S.min * SCALE, max: CALL_S.max * SCALE },
  seed: 17,
  turns: {
    intervalMs: TURN_EVERY_S * SCALE,
    latencyMs: 600,
    capacity: CAPACITY,
    exponent: 2,
    jitter: 0.2,
    capacityChanges: [
      { atMs: PHASE_S * SCALE, capacity: CAPACITY / 2 },
      { atMs: 2 * PHASE_S * SCALE, capacity: CAPACITY },
    ],
  },
};

interface Trace {
  readonly t: number;
  readonly limit: number;
  readonly live: number;
  readonly capacity: number;
}

interface Outcome {
  readonly label: string;
  readonly admittedPerPhase: number[];
  /** p95 turn latency per WINDOW_S window, per phase. */
  readonly windowP95: number[][];
  readonly endedByLimit: number;
  readonly trace: Trace[];
  readonly p95Trace: [number, number][];
}

/** One run of the three phases with callers arriving throughout, under `limit`. */
async function run(label: string, limit: number | AdaptiveLimit): Promise<Outcome> {
  const backend = new SimulatedBackend({ providerConfig: SIMULATION });
  await backend.start();
  const fixed = typeof limit === 'number';
  const admission = new Admission(backend, {
    maxConcurrentSessions: fixed ? limit : 1_000,
    ...(fixed ? {} : { limit }),
    queue: { maxSize: 0 },
    health: false,
    telemetry: false,
  });
  const started = performance.now();
  const now = (): number => (performance.now() - started) / SCALE;
  const phaseOf = (t: number): number => Math.min(PHASES.length - 1, Math.floor(t / PHASE_S));
  const admittedPerPhase = PHASES.map(() => 0);
  const turnsByWindow: number[][] = [];
  backend.onTurn((turn) => {
    admission.observeLatency(turn.latencyMs, { tenantId: turn.tenantId });
    const window = Math.floor(now() / WINDOW_S);
    const samples = turnsByWindow[window] ?? [];
    samples.push(turn.latencyMs);
    turnsByWindow[window] = samples;
  });
  let endedByLimit = 0;
  let running = true;
  const calls: Promise<void>[] = [];
  const trace: Trace[] = [];
  const arrive = async (i: number): Promise<void> => {
    try {
      const session = await admission.createSession({ userId: `caller-${i}` });
      admittedPerPhase[phaseOf(now())]!++;
      const end = await session.closed;
      // Only the simulation's own end of a call is expected while the run goes on.
      if (running && end.reason !== 'completed') endedByLimit++;
    } catch {
      // Refused: the caller is told to retry later; the bench counts admissions only.
    }
  };
  let arrivals = 0;
  const total = PHASES.length * PHASE_S;
  while (now() < total) {
    const due = Math.floor(now() * ARRIVALS_PER_S);
    while (arrivals < due) calls.push(arrive(arrivals++));
    const t = now();
    if (trace.length === 0 || t - trace.at(-1)!.t >= 1) {
      trace.push({
        t,
        limit: admission.limit,
        live: backend.simulationStats().openSessions,
        capacity: backend.turnCapacity ?? CAPACITY,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  running = false;
  await admission.drain({ timeoutMs: 0 });
  await Promise.all(calls);
  await backend.stop();
  const windows = Math.floor(total / WINDOW_S);
  const windowP95 = PHASES.map(() => [] as number[]);
  const p95Trace: [number, number][] = [];
  for (let w = 0; w < windows; w++) {
    const samples = turnsByWindow[w] ?? [];
    if (samples.length === 0) continue;
    const p95 = percentile(samples, 95);
    windowP95[phaseOf(w * WINDOW_S)]!.push(p95);
    p95Trace.push([(w + 0.5) * WINDOW_S, p95]);
  }
  return { label, admittedPerPhase, windowP95, endedByLimit, trace, p95Trace };
}

const withinTarget = (p95s: readonly number[]): number =>
  p95s.filter((p95) => p95 <= TARGET_MS).length / Math.max(1, p95s.length);

function plot(outcome: Outcome): string {
  const { trace } = outcome;
  return lineChart(
    `${outcome.label}: limit, live calls and p95 turn latency over time`,
    [
      {
        title: `${outcome.label}: limit and live calls (capacity halved from ${PHASE_S} s to ${2 * PHASE_S} s)`,
        yLabel: 'calls',
        series: [
          { label: 'limit', color: '#d62728', points: trace.map((p) => [p.t, p.limit]) },
          { label: 'live calls', color: '#1f77b4', points: trace.map((p) => [p.t, p.live]) },
          {
            label: 'true capacity',
            color: '#555',
            dashed: true,
            points: trace.map((p) => [p.t, p.capacity]),
          },
        ],
      },
      {
        title: `p95 turn latency of live calls per ${WINDOW_S} s window`,
        yLabel: 'ms',
        series: [
          { label: 'p95 latency', color: '#2ca02c', points: outcome.p95Trace },
          {
            label: `target ${TARGET_MS} ms`,
            color: '#555',
            dashed: true,
            points: [
              [0, TARGET_MS],
              [PHASES.length * PHASE_S, TARGET_MS],
            ],
          },
        ],
      },
    ],
    'simulated seconds',
  );
}

const ROUNDS = 5;
const FIXED = [CAPACITY, CAPACITY / 2, CAPACITY * 2] as const;
const fixedLabel = (cap: number): string =>
  `fixed ${cap} (${cap === CAPACITY ? 'true capacity' : cap < CAPACITY ? 'half' : 'double'})`;
const SLO_LABEL = 'adaptive SLO (p95 turn latency)';
const sloWindowMs = 15 * SCALE;

/** The limits compared, by label: fixed caps, the setup-latency limits, the SLO limit. */
const LIMITS: Record<string, () => number | AdaptiveLimit> = {
  ...Object.fromEntries(FIXED.map((cap) => [fixedLabel(cap), () => cap])),
  'adaptive gradient (setup latency)': () => adaptive({ min: 5, max: 200, initial: 20 }),
  'adaptive AIMD (setup latency)': () =>
    adaptive({ min: 5, max: 200, initial: 20, algorithm: 'aimd' }),
  [SLO_LABEL]: () =>
    adaptive({
      min: 5,
      max: 200,
      initial: 20,
      slo: { quantile: 0.95, targetMs: TARGET_MS, windowMs: sloWindowMs, intervalMs: 2.5 * SCALE },
    }),
};

/** What one run comes to, as numbers: per phase, calls admitted and windows within target. */
function figuresOf(outcome: Outcome): Figures {
  const figures: Figures = {
    within: withinTarget(outcome.windowP95.flat()),
    ended: outcome.endedByLimit,
  };
  for (const [phase] of PHASES.entries()) {
    figures[`admitted${phase}`] = outcome.admittedPerPhase[phase]!;
    figures[`within${phase}`] = withinTarget(outcome.windowP95[phase]!);
  }
  return figures;
}

/** Each runs in its own process (bench/child.ts); the SLO run draws its plot (the last round's). */
export const contenders: Contenders = Object.fromEntries(
  Object.entries(LIMITS).map(([label, limit]) => [
    label,
    async () => {
      const outcome = await run(label, limit());
      if (label === SLO_LABEL) writeFileSync(new URL('../slo.svg', import.meta.url), plot(outcome));
      return figuresOf(outcome);
    },
  ]),
);

/**
 * The best fixed cap of each phase in one round: most calls admitted among the caps that kept
 * the objective there (no fixed cap is best in every phase).
 */
function bestFixed(rounds: Map<string, Figures[]>, round: number): string[] {
  return PHASES.map((_, phase) => {
    const fixed = FIXED.map(fixedLabel);
    const keeping = fixed.filter((name) => rounds.get(name)![round]![`within${phase}`]! >= 0.95);
    const admitted = (name: string): number => rounds.get(name)![round]![`admitted${phase}`]!;
    return (keeping.length > 0 ? keeping : fixed).reduce((a, b) =>
      admitted(b) > admitted(a) ? b : a,
    );
  });
}

const capOf = (label: string): string => label.split(' ')[1]!;
const percent = (fraction: number): string => `${Math.round(fraction * 100)}%`;

export const slo: BenchCase = {
  name: `latency SLO (p95 <= ${TARGET_MS} ms) vs fixed caps: turn capacity ${CAPACITY}, halved mid-run, unknown to the limit (own process)`,
  command: 'npm run bench -- slo',
  notes: (rows) => {
    // The best fixed caps of each phase, as the rows name them: "(of 40)" or "(of 40/80)".
    const best = [...(rows[0]?.value ?? '').matchAll(/ of ([\d/]+)\)/g)].map((m) => m[1]);
    return [
      `Time is compressed (one simulated second lasts ${SCALE} ms), ${(PHASES.length * PHASE_S) / 60} simulated minutes: turn capacity ${CAPACITY} for ${PHASE_S} s, halved to ${CAPACITY / 2} until ${2 * PHASE_S} s, then restored; callers arrive faster than any limit here admits; calls last ${CALL_S.min}–${CALL_S.max} s and take a turn every ${TURN_EVERY_S} s. "admitted" counts calls admitted per phase; the best fixed cap of a phase is the one admitting most among those that kept the p95 under the target in 95% of that phase's ${WINDOW_S}-second windows, found in each round (this run: ${best.join(', ')}). "ended by the limit" counts calls ended by anything but their own completion before the run's end. Each limit runs in its own process, ${ROUNDS} rounds interleaved: figures are medians with the range across rounds in brackets, ratios are against the same round's best fixed cap. Plot of the SLO run (its last round): [slo.svg](slo.svg).`,
    ];
  },
  async run(): Promise<Row[]> {
    const names = Object.keys(contenders);
    const rounds = await interleaved(import.meta.url, names, ROUNDS);
    const bests = Array.from({ length: ROUNDS }, (_, round) => bestFixed(rounds, round));
    const group = this.name;
    return names.map((name) => {
      const at = (key: string): Spread => figure(rounds, name, key);
      const perPhase = PHASES.map((_, phase) => {
        const ratios = rounds.get(name)!.map((f, round) => {
          const best = rounds.get(bests[round]![phase]!)![round]!;
          return f[`admitted${phase}`]! / best[`admitted${phase}`]!;
        });
        const caps = [...new Set(bests.map((best) => capOf(best[phase]!)))].join('/');
        return { ratio: spread(ratios), caps };
      });
      const value = PHASES.map(
        (phase, i) =>
          `${phase}: ${formatSpread(at(`admitted${i}`), String)} admitted (${times(perPhase[i]!.ratio.median)} of ${perPhase[i]!.caps}), p95 ok ${formatSpread(at(`within${i}`), percent)}`,
      );
      const ended = at('ended');
      const within = at('within');
      return {
        group,
        name,
        value: `${value.join('; ')}; ${formatSpread(ended, String)} ended by the limit`,
        ratio: `${perPhase.map((p) => formatSpread(p.ratio, (r) => r.toFixed(2))).join(' / ')}x, p95 ok in ${formatSpread(within, percent)} of windows`,
        ...(name === SLO_LABEL
          ? {
              target: '>= 0.95x best fixed per phase, p95 ok >= 95%, 0 ended',
              met:
                perPhase.every((p) => p.ratio.median >= 0.95) &&
                within.median >= 0.95 &&
                ended.max === 0,
            }
          : {}),
      };
    });
  },
};

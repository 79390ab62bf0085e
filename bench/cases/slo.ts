import { writeFileSync } from 'node:fs';
import { type AdaptiveLimit, adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import { Admission } from '../../src/admission/admission.js';
import { percentile } from '../../src/cli/stats.js';
import type { SimulatedProviderConfig } from '../../src/providers/simulated/config.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { type BenchCase, type Row, ratio } from '../measure.js';
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

export const slo: BenchCase = {
  name: `latency SLO (p95 <= ${TARGET_MS} ms) vs fixed caps: turn capacity ${CAPACITY}, halved mid-run, unknown to the limit`,
  command: 'npm run bench -- slo',
  notes(rows) {
    // The best fixed cap of each phase, as every row names it: "(1.00x of 40)".
    const best = [...(rows[0]?.value ?? '').matchAll(/x of (\d+)\)/g)].map((m) => m[1]);
    return [
      `Time is compressed (one simulated second lasts ${SCALE} ms), ${(PHASES.length * PHASE_S) / 60} simulated minutes: turn capacity ${CAPACITY} for ${PHASE_S} s, halved to ${CAPACITY / 2} until ${2 * PHASE_S} s, then restored; callers arrive faster than any limit here admits; calls last ${CALL_S.min}–${CALL_S.max} s and take a turn every ${TURN_EVERY_S} s. "admitted" counts calls admitted per phase; the best fixed cap of a phase is the one admitting most among those that kept the p95 under the target in 95% of that phase's ${WINDOW_S}-second windows (this run: ${best.join(', ')}). "ended by the limit" counts calls ended by anything but their own completion before the run's end. Plot of the SLO run: [slo.svg](slo.svg).`,
    ];
  },
  async run(): Promise<Row[]> {
    const fixed = [
      await run(`fixed ${CAPACITY} (true capacity)`, CAPACITY),
      await run(`fixed ${CAPACITY / 2} (half)`, CAPACITY / 2),
      await run(`fixed ${CAPACITY * 2} (double)`, CAPACITY * 2),
    ];
    const setupDriven = [
      await run('adaptive gradient (setup latency)', adaptive({ min: 5, max: 200, initial: 20 })),
      await run(
        'adaptive AIMD (setup latency)',
        adaptive({ min: 5, max: 200, initial: 20, algorithm: 'aimd' }),
      ),
    ];
    const sloWindowMs = 15 * SCALE;
    const sloOutcome = await run(
      'adaptive SLO (p95 turn latency)',
      adaptive({
        min: 5,
        max: 200,
        initial: 20,
        slo: {
          quantile: 0.95,
          targetMs: TARGET_MS,
          windowMs: sloWindowMs,
          intervalMs: 2.5 * SCALE,
        },
      }),
    );
    writeFileSync(new URL('../slo.svg', import.meta.url), plot(sloOutcome));
    // The best fixed cap of a phase: most calls admitted among the caps that kept the
    // objective there (no fixed cap is best in every phase).
    const best = PHASES.map((_, phase) => {
      const keeping = fixed.filter((o) => withinTarget(o.windowP95[phase]!) >= 0.95);
      const pool = keeping.length > 0 ? keeping : fixed;
      return pool.reduce((a, b) =>
        b.admittedPerPhase[phase]! > a.admittedPerPhase[phase]! ? b : a,
      );
    });
    const group = this.name;
    return [...fixed, ...setupDriven, sloOutcome].map((outcome) => {
      const ratios = PHASES.map(
        (_, phase) => outcome.admittedPerPhase[phase]! / best[phase]!.admittedPerPhase[phase]!,
      );
      const within = withinTarget(outcome.windowP95.flat());
      const perPhase = PHASES.map(
        (name, phase) =>
          `${name}: ${outcome.admittedPerPhase[phase]} admitted (${ratio(ratios[phase]!, 1)} of ${best[phase]!.label.split(' ')[1]}), p95 ok ${Math.round(withinTarget(outcome.windowP95[phase]!) * 100)}%`,
      );
      const isSlo = outcome === sloOutcome;
      return {
        group,
        name: outcome.label,
        value: `${perPhase.join('; ')}; ${outcome.endedByLimit} ended by the limit`,
        ratio: `${ratios.map((r) => r.toFixed(2)).join(' / ')}x, p95 ok in ${Math.round(within * 100)}% of windows`,
        ...(isSlo
          ? {
              target: '>= 0.95x best fixed per phase, p95 ok >= 95%, 0 ended',
              met: ratios.every((r) => r >= 0.95) && within >= 0.95 && outcome.endedByLimit === 0,
            }
          : {}),
      };
    });
  },
};

import { type AdaptiveLimit, adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import { Admission } from '../../src/admission/admission.js';
import { formatMs, percentile } from '../../src/cli/stats.js';
import type { SimulatedProviderConfig } from '../../src/providers/simulated/config.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { type BenchCase, type Row, ratio } from '../measure.js';

const REQUESTS = 600;
/** Setup latency and failures rise past 20 concurrent setups; nobody tells the limit that. */
const SIMULATION: SimulatedProviderConfig = {
  setupLatencyMs: 60,
  setupCapacity: 20,
  contentionExponent: 1.5,
  overloadFailureRate: 0.3,
  setupTimeoutMs: 3_000,
  seed: 7,
};
const FIXED = [5, 10, 20, 30, 60];

interface Outcome {
  readonly label: string;
  /** Sessions established per second over the burst. */
  readonly throughput: number;
  readonly p99: number;
  readonly failures: number;
  readonly finalLimit: number;
}

/** All requests at once, sessions kept open, the setup phase capped by `concurrency`. */
async function run(label: string, concurrency: number | AdaptiveLimit): Promise<Outcome> {
  const backend = new SimulatedBackend({ providerConfig: SIMULATION });
  await backend.start();
  const admission = new Admission(backend, {
    maxConcurrentSessions: REQUESTS,
    setup: { concurrency, timeoutMs: 60_000 },
    health: false,
    telemetry: false,
  });
  const started = performance.now();
  const joins: number[] = [];
  let failures = 0;
  let lastJoin = started;
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const t0 = performance.now();
      try {
        await admission.createSession({ userId: `caller-${i}` });
        lastJoin = performance.now();
        joins.push(lastJoin - t0);
      } catch {
        failures++;
      }
    }),
  );
  const outcome = {
    label,
    throughput: joins.length / ((lastJoin - started) / 1000),
    p99: percentile(joins, 99),
    failures,
    finalLimit: admission.stats().setupConcurrency,
  };
  await backend.stop();
  return outcome;
}

export const adaptiveLimits: BenchCase = {
  name: `adaptive setup concurrency: ${REQUESTS} simultaneous starts, capacity 20 unknown to the limit`,
  command: 'npm run bench -- adaptive',
  async run(): Promise<Row[]> {
    const fixed: Outcome[] = [];
    for (const limit of FIXED) fixed.push(await run(`fixed ${limit}`, limit));
    const best = fixed.reduce((a, b) => (b.throughput > a.throughput ? b : a));
    const adaptiveOutcomes = [
      await run(
        'adaptive gradient',
        adaptive({ min: 1, max: 200, initial: 5, algorithm: 'gradient' }),
      ),
      await run('adaptive AIMD', adaptive({ min: 1, max: 200, initial: 5, algorithm: 'aimd' })),
    ];
    const group = this.name;
    return [...fixed, ...adaptiveOutcomes].map((outcome) => {
      const isAdaptive = outcome.label.startsWith('adaptive');
      const throughputRatio = outcome.throughput / best.throughput;
      const p99Ratio = outcome.p99 / best.p99;
      return {
        group,
        name: `${outcome.label}${outcome === best ? ' (best fixed)' : ''}`,
        value: `${Math.round(outcome.throughput)} sessions/s, join p99 ${formatMs(outcome.p99)}, ${outcome.failures} failed, ends at ${outcome.finalLimit}`,
        ratio: `${ratio(outcome.throughput, best.throughput)} throughput, ${p99Ratio.toFixed(2)}x p99`,
        ...(isAdaptive
          ? {
              target: '>= 0.95x best throughput, <= 1.1x its p99, failed <= 1% of starts',
              met: throughputRatio >= 0.95 && p99Ratio <= 1.1 && outcome.failures <= REQUESTS / 100,
            }
          : {}),
      };
    });
  },
};

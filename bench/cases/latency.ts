import { Admission } from '../../src/index.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { testMeter } from '../../test/support/metric-reader.js';
import {
  type Contenders,
  type Figures,
  figure,
  formatSpread,
  interleaved,
  ratioSpread,
  times,
} from '../isolated.js';
import { type BenchCase, formatNs, type Row } from '../measure.js';

const N = 500_000;
const ROUNDS = 5;
const request = { tenantId: 'acme' };

/** Without `cap`: 100 slots, no queue. With it: `cap` slots and a queue. */
function newAdmission(telemetry = false, cap?: number): Admission {
  return new Admission(new SimulatedBackend(), {
    maxConcurrentSessions: cap ?? 100,
    health: false,
    ...(cap === undefined ? {} : { queue: { maxSize: 10, timeoutMs: 60_000 } }),
    telemetry: telemetry ? { meterProvider: testMeter().meterProvider } : false,
  });
}

/** Nanoseconds per iteration of `body` over `iterations`, after a warm-up run. */
async function perOp(
  body: (iterations: number) => Promise<void>,
  iterations = N,
): Promise<Figures> {
  await body(iterations);
  const started = process.hrtime.bigint();
  await body(iterations);
  return { ns: Number(process.hrtime.bigint() - started) / iterations };
}

/**
 * Two loops on one slot: every other acquire queues, so the queue-wait histogram and the
 * queue listeners really run (an uncontended acquire fires none).
 */
const contended = (admission: Admission) => (n: number) =>
  Promise.all(
    [0, 1].map(async () => {
      for (let i = 0; i < n / 2; i++) (await admission.acquire(request)).release();
    }),
  ).then(() => undefined);

function full(): Admission {
  const admission = newAdmission();
  for (let i = 0; i < 100; i++) admission.tryAcquire(request);
  return admission;
}

const SYNC = 'tryAcquire + release (synchronous)';
const ASYNC = 'await acquire + release';
const SYNC_REFUSAL = 'refusal, tryAcquire (a value)';
const ASYNC_REFUSAL = 'refusal, await acquire (a rejected promise)';
/** The targets, in ns, of the rows that have one. */
const LIMITS: Record<string, number> = {
  [SYNC]: 300,
  [ASYNC]: 300,
  [SYNC_REFUSAL]: 1_000,
  [ASYNC_REFUSAL]: 1_000,
};

/** Each runs in its own process (bench/child.ts). */
export const contenders: Contenders = {
  [SYNC]: () => {
    const admission = newAdmission();
    return perOp(async (n) => {
      for (let i = 0; i < n; i++) {
        const slot = admission.tryAcquire(request);
        if ('release' in slot) slot.release();
      }
    });
  },
  [ASYNC]: () => {
    const admission = newAdmission();
    return perOp(async (n) => {
      for (let i = 0; i < n; i++) (await admission.acquire(request)).release();
    });
  },
  '2 loops on 1 slot, await acquire + release, telemetry off': () =>
    perOp(contended(newAdmission(false, 1))),
  '2 loops on 1 slot, await acquire + release, telemetry on (SDK meter provider)': () =>
    perOp(contended(newAdmission(true, 1))),
  [SYNC_REFUSAL]: () => {
    const admission = full();
    return perOp(async (n) => {
      for (let i = 0; i < n; i++) admission.tryAcquire(request);
    });
  },
  [ASYNC_REFUSAL]: () => {
    const admission = full();
    return perOp(async (n) => {
      for (let i = 0; i < n; i++) await admission.acquire(request).catch(() => undefined);
    }, N / 10);
  },
};

export const latency: BenchCase = {
  name: 'uncontended latency (memory store, own process)',
  command: 'npm run bench -- latency',
  notes: () => [
    `Each row is the time per iteration of a loop of ${N.toLocaleString('en-US')} (a tenth of that for the rejected promises), timed after a warm-up run of as many. The "2 loops on 1 slot" rows make every other acquire queue, so the queue-wait histogram and the queue listeners really run: an uncontended acquire fires none. Refusals are measured with every slot held: tryAcquire answers with a value, acquire with a rejected promise.`,
  ],
  async run(): Promise<Row[]> {
    const names = Object.keys(contenders);
    const samples = await interleaved(import.meta.url, names, ROUNDS);
    return names.map((name) => {
      const ns = figure(samples, name, 'ns');
      const limit = LIMITS[name];
      return {
        group: this.name,
        name,
        value: formatSpread(ns, formatNs),
        ratio: formatSpread(ratioSpread(samples, name, SYNC, 'ns'), times),
        ...(limit === undefined ? {} : { target: `< ${limit} ns`, met: ns.median < limit }),
      };
    });
  },
};

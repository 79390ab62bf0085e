import { Admission } from '../../src/index.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { testMeter } from '../../test/support/metric-reader.js';
import { type BenchCase, formatNs, median, type Row } from '../measure.js';

const N = 500_000;

/** Without `cap`: 100 slots, no queue. With it: `cap` slots and a queue. */
function newAdmission(telemetry = false, cap?: number): Admission {
  return new Admission(new SimulatedBackend(), {
    maxConcurrentSessions: cap ?? 100,
    health: false,
    ...(cap === undefined ? {} : { queue: { maxSize: 10, timeoutMs: 60_000 } }),
    telemetry: telemetry ? { meterProvider: testMeter().meterProvider } : false,
  });
}

/** Nanoseconds per iteration of `body`, given `iterations` to run. */
async function perOp(body: (iterations: number) => Promise<void>, iterations = N): Promise<number> {
  return median(5, async () => {
    const started = process.hrtime.bigint();
    await body(iterations);
    return Number(process.hrtime.bigint() - started) / iterations;
  });
}

export const latency: BenchCase = {
  name: 'uncontended latency (memory store)',
  command: 'npm run bench -- latency',
  async run(): Promise<Row[]> {
    const group = this.name;
    const admission = newAdmission();
    const request = { tenantId: 'acme' };
    const asyncCycle = await perOp(async (n) => {
      for (let i = 0; i < n; i++) (await admission.acquire(request)).release();
    });
    const syncCycle = await perOp(async (n) => {
      for (let i = 0; i < n; i++) {
        const slot = admission.tryAcquire(request);
        if ('release' in slot) slot.release();
      }
    });
    // Two loops on one slot: every other acquire queues, so the queue-wait histogram and the
    // queue listeners really run (an uncontended acquire fires none).
    const contended = (admission: Admission) => (n: number) =>
      Promise.all(
        [0, 1].map(async () => {
          for (let i = 0; i < n / 2; i++) (await admission.acquire(request)).release();
        }),
      ).then(() => undefined);
    const contendedPlain = await perOp(contended(newAdmission(false, 1)));
    const contendedObserved = await perOp(contended(newAdmission(true, 1)));
    const full = newAdmission();
    for (let i = 0; i < 100; i++) full.tryAcquire(request);
    const syncRefusal = await perOp(async (n) => {
      for (let i = 0; i < n; i++) full.tryAcquire(request);
    });
    const asyncRefusal = await perOp(async (n) => {
      for (let i = 0; i < n; i++) await full.acquire(request).catch(() => undefined);
    }, N / 10);
    const row = (name: string, ns: number, limit?: number): Row => ({
      group,
      name,
      value: formatNs(ns),
      ratio: `${(ns / syncCycle).toFixed(2)}x`,
      ...(limit === undefined ? {} : { target: `< ${limit} ns`, met: ns < limit }),
    });
    return [
      row('tryAcquire + release (synchronous)', syncCycle, 300),
      row('await acquire + release', asyncCycle, 300),
      row('2 loops on 1 slot, await acquire + release, telemetry off', contendedPlain),
      row(
        '2 loops on 1 slot, await acquire + release, telemetry on (SDK meter provider)',
        contendedObserved,
      ),
      row('refusal, tryAcquire (a value)', syncRefusal, 1_000),
      row('refusal, await acquire (a rejected promise)', asyncRefusal, 1_000),
    ];
  },
};

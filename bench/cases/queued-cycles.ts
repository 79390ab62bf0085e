import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Admission } from '../../src/index.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { testMeter } from '../../test/support/metric-reader.js';
import {
  type BenchCase,
  collectGarbage,
  formatBytes,
  formatRate,
  heapUsed,
  type Row,
  ratio,
} from '../measure.js';

const CYCLES = 200_000;
const CAP = 100;
const TENANTS = Array.from({ length: 8 }, (_, i) => ({ tenantId: `tenant-${i}` }));
const work = (): Promise<void> => Promise.resolve();

interface Result {
  readonly opsPerSecond: number;
  /** Heap per queued task, measured with every task submitted and none run yet. */
  readonly bytesPerTask: number;
}

/** Submits CYCLES tasks at once to `submit`, cap CAP, and waits for all of them. */
async function measure(submit: (i: number) => Promise<unknown>): Promise<Result> {
  collectGarbage();
  const before = heapUsed();
  const started = performance.now();
  const tasks = new Array<Promise<unknown>>(CYCLES);
  for (let i = 0; i < CYCLES; i++) tasks[i] = submit(i);
  const queuedHeap = heapUsed() - before;
  await Promise.all(tasks);
  const seconds = (performance.now() - started) / 1000;
  return { opsPerSecond: CYCLES / seconds, bytesPerTask: queuedHeap / CYCLES };
}

function admission(options: {
  tenants: boolean;
  telemetry: boolean;
}): (i: number) => Promise<unknown> {
  const { meterProvider } = testMeter();
  const instance = new Admission(new SimulatedBackend(), {
    maxConcurrentSessions: CAP,
    queue: { maxSize: CYCLES, timeoutMs: 60_000 },
    health: false,
    ...(options.tenants ? { tenants: { defaultMax: CAP } } : {}),
    telemetry: options.telemetry ? { meterProvider } : false,
  });
  return options.tenants
    ? (i) => instance.run(TENANTS[i % TENANTS.length]!, work)
    : () => instance.run({}, work);
}

/** Medians of three runs each, alternating contenders so drift on a shared machine hits all. */
async function compare(
  contenders: Record<string, () => (i: number) => Promise<unknown>>,
): Promise<Map<string, Result>> {
  const samples = new Map<string, Result[]>(Object.keys(contenders).map((name) => [name, []]));
  for (const make of Object.values(contenders)) await measure(make()); // warm-up
  for (let round = 0; round < 3; round++) {
    for (const [name, make] of Object.entries(contenders))
      samples.get(name)!.push(await measure(make()));
  }
  const medians = new Map<string, Result>();
  for (const [name, results] of samples) {
    const rate = results.map((r) => r.opsPerSecond).sort((a, b) => a - b)[1]!;
    const bytes = results.map((r) => r.bytesPerTask).sort((a, b) => a - b)[1]!;
    medians.set(name, { opsPerSecond: rate, bytesPerTask: bytes });
  }
  return medians;
}

export const queuedCycles: BenchCase = {
  name: `${CYCLES.toLocaleString('en-US')} queued acquire/run/release cycles, cap ${CAP}`,
  command: 'npm run bench -- queued',
  async run(): Promise<Row[]> {
    const results = await compare({
      'p-limit': () => {
        const limit = pLimit(CAP);
        return () => limit(work);
      },
      'p-queue': () => {
        const queue = new PQueue({ concurrency: CAP });
        return () => queue.add(work);
      },
      'Admission (memory, telemetry off)': () => admission({ tenants: false, telemetry: false }),
      'Admission (8 tenants, telemetry on)': () => admission({ tenants: true, telemetry: true }),
    });
    const anchor = results.get('p-limit')!;
    const group = this.name;
    const rows: Row[] = [];
    for (const [name, result] of results) {
      const full = name === 'Admission (8 tenants, telemetry on)';
      rows.push({
        group,
        name: `${name}: throughput`,
        value: formatRate(result.opsPerSecond),
        ratio: ratio(result.opsPerSecond, anchor.opsPerSecond),
        ...(full
          ? { target: '>= 2x p-limit', met: result.opsPerSecond >= 2 * anchor.opsPerSecond }
          : {}),
      });
      rows.push({
        group,
        name: `${name}: heap per queued task`,
        value: formatBytes(result.bytesPerTask),
        ratio: ratio(result.bytesPerTask, anchor.bytesPerTask),
        ...(full
          ? { target: '<= 0.5x p-limit', met: result.bytesPerTask <= 0.5 * anchor.bytesPerTask }
          : {}),
      });
    }
    return rows;
  },
};

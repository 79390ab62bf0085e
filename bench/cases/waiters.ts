import { Admission } from '../../src/admission/admission.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { type Contenders, figure, formatSpread, interleaved } from '../isolated.js';
import { type BenchCase, collectGarbage, formatBytes, heapUsed, type Row } from '../measure.js';

const WAITERS = 100_000;
const ROUNDS = 5;
const CONTENDER = 'Admission';

/** Each runs in its own process (bench/child.ts). */
export const contenders: Contenders = {
  async [CONTENDER]() {
    const admission = new Admission(new SimulatedBackend(), {
      maxConcurrentSessions: 1,
      queue: { maxSize: WAITERS, timeoutMs: 60_000 },
      health: false,
      telemetry: false,
    });
    const held = admission.tryAcquire();
    const requests = [{ tenantId: 'a' }, { tenantId: 'b' }, { tenantId: 'c' }];
    collectGarbage();
    const before = heapUsed();
    const queued = new Array<Promise<unknown>>(WAITERS);
    for (let i = 0; i < WAITERS; i++) queued[i] = admission.acquire(requests[i % 3]);
    collectGarbage();
    const bytesPerWaiter = (heapUsed() - before) / WAITERS;
    for (const promise of queued) promise.catch(() => undefined);
    await admission.drain({ timeoutMs: 0 });
    if ('release' in held) held.release();
    return { bytesPerWaiter };
  },
};

export const waiters: BenchCase = {
  name: `${WAITERS.toLocaleString('en-US')} queued waiters (own process)`,
  command: 'npm run bench -- waiters',
  notes: () => [
    `${WAITERS.toLocaleString('en-US')} acquires queued behind one held slot, spread over three tenants, the heap read after a forced GC before any is served: what a waiter costs with its promise and its place in the fair queue.`,
  ],
  async run(): Promise<Row[]> {
    const samples = await interleaved(import.meta.url, [CONTENDER], ROUNDS);
    const bytes = figure(samples, CONTENDER, 'bytesPerWaiter');
    return [
      {
        group: this.name,
        name: 'heap per queued waiter (promise included)',
        value: formatSpread(bytes, formatBytes),
        ratio: '1.00x',
        target: '< 600 B',
        met: bytes.median < 600,
      },
    ];
  },
};

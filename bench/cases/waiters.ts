import { Admission } from '../../src/admission/admission.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import {
  type BenchCase,
  collectGarbage,
  formatBytes,
  heapUsed,
  median,
  type Row,
} from '../measure.js';

const WAITERS = 100_000;

export const waiters: BenchCase = {
  name: `${WAITERS.toLocaleString('en-US')} queued waiters`,
  command: 'npm run bench -- waiters',
  async run(): Promise<Row[]> {
    const bytes = await median(3, async () => {
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
      const perWaiter = (heapUsed() - before) / WAITERS;
      for (const promise of queued) promise.catch(() => undefined);
      await admission.drain({ timeoutMs: 0 });
      if ('release' in held) held.release();
      return perWaiter;
    });
    return [
      {
        group: this.name,
        name: 'heap per queued waiter (promise included)',
        value: formatBytes(bytes),
        ratio: '1.00x',
        target: '< 600 B',
        met: bytes < 600,
      },
    ];
  },
};

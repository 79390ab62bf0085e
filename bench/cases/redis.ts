import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import type { Lease } from '../../src/admission/store/capacity-store.js';
import { redisStore } from '../../src/admission/store/redis/redis-store.js';
import { hasBinary } from '../../test/support/binaries.js';
import { startRedis } from '../../test/support/redis-server.js';
import { type BenchCase, formatRate, median, type Row, ratio } from '../measure.js';

const LOOPS = 50;
const ITERATIONS = 1_000;
const LIMIT = 100; // above LOOPS: measures the round trips, not waiting

/** Operations per second of LOOPS concurrent loops each doing `iterations` cycles (median of 5). */
async function rate(cycle: () => Promise<void>, iterations = ITERATIONS): Promise<number> {
  const once = async () => {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: LOOPS }, async () => {
        for (let i = 0; i < iterations; i++) await cycle();
      }),
    );
    return (LOOPS * iterations) / ((performance.now() - started) / 1000);
  };
  return median(5, once);
}

export const redis: BenchCase = {
  name: `Redis: ${LOOPS} concurrent loops of acquire + release, same server, same run`,
  command: 'npm run bench -- redis',
  async run(): Promise<Row[]> {
    if (!hasBinary('redis-server')) throw new Error('redis-server is needed for this case');
    const server = await startRedis();
    const client = new Redis(server.url);
    try {
      const request = {
        tenantId: 'bench',
        globalLimit: LIMIT,
        tenantLimit: Number.POSITIVE_INFINITY,
      };
      const store = redisStore({ redis: client, name: 'bench' });
      const ours = await rate(async () => {
        const lease = await store.tryAcquire(request);
        await store.release(lease as Lease);
      });
      await store.close();

      const floor = await rate(async () => {
        await client.incr('bench:counter');
        await client.decr('bench:counter');
      });

      const semaphores = Array.from(
        { length: LOOPS },
        () => new Semaphore(client, 'bench:semaphore', LIMIT),
      );
      let next = 0;
      const semaphore = await rate(async () => {
        const lock = semaphores[next++ % LOOPS]!;
        await lock.acquire();
        await lock.release();
      });

      const bottleneck = new Bottleneck({
        maxConcurrent: LIMIT,
        datastore: 'ioredis',
        clearDatastore: true,
        id: 'bench-bottleneck',
        clientOptions: { host: '127.0.0.1', port: server.port },
      });
      await bottleneck.ready();
      // An order of magnitude slower: fewer cycles keep the run short.
      const bottleneckRate = await rate(() => bottleneck.schedule(() => Promise.resolve()), 40);
      await bottleneck.disconnect();

      const group = this.name;
      return [
        {
          group,
          name: 'raw INCR + DECR (the two-round-trip floor)',
          value: formatRate(floor),
          ratio: '1.00x',
        },
        {
          group,
          name: 'redisStore tryAcquire + release',
          value: formatRate(ours),
          ratio: ratio(ours, floor),
          target: '>= INCR+DECR and >= 2x redis-semaphore',
          met: ours >= floor && ours >= 2 * semaphore,
        },
        {
          group,
          name: 'redis-semaphore acquire + release',
          value: formatRate(semaphore),
          ratio: ratio(semaphore, floor),
        },
        {
          group,
          name: 'bottleneck (ioredis datastore) schedule',
          value: formatRate(bottleneckRate),
          ratio: ratio(bottleneckRate, floor),
        },
      ];
    } finally {
      client.disconnect();
      await server.stop();
    }
  },
};

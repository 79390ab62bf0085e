import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Lease } from '../../../../src/admission/store/capacity-store.js';
import { redisStore } from '../../../../src/admission/store/redis/redis-store.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';

/** How long loading ioredis takes here: a cold process on a busy machine (disk, compile cache). */
const LOAD_MS = 1_500;

// Nothing in this file imports ioredis before the store does: its first load is the store's.
vi.mock('ioredis', async (importOriginal) => {
  await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
  return importOriginal();
});

describeWithBinary('redis-server', 'redis store: its first call in a fresh process', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('is given timeoutMs for Redis to answer, not for loading ioredis (a slow load is no absent Redis)', async () => {
    server.seedLimiter('cold-start');
    const store = redisStore({ redis: server.url, name: 'cold-start', timeoutMs: 500 });
    try {
      const started = performance.now();
      const lease = await store.tryAcquire({
        tenantId: 't',
        globalLimit: 1,
        tenantLimit: Number.POSITIVE_INFINITY,
      });
      expect(performance.now() - started).toBeGreaterThanOrEqual(LOAD_MS - 5);
      expect(lease.refused).toBeUndefined();
      await store.release(lease as Lease);
    } finally {
      await store.close();
    }
  });
});

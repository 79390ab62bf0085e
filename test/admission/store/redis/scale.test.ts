import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../../../src/admission/store/redis/redis-store.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';

const LEASES = 50_000;
const request = { tenantId: 'bulk', globalLimit: 1_000_000, tenantLimit: Number.POSITIVE_INFINITY };

describeWithBinary(
  'redis-server',
  'redis store: tens of thousands of leases in one instance',
  () => {
    let server: RedisServer;
    const stores: RedisCapacityStore[] = [];
    const newStore = (name: string, leaseTtlMs: number): RedisCapacityStore => {
      server.seedLimiter(name);
      const store = redisStore({ redis: server.url, name, leaseTtlMs, timeoutMs: 1_000 });
      store.on('error', () => undefined); // a renewal timing out on a starved machine is retried
      stores.push(store);
      return store;
    };

    beforeAll(async () => {
      server = await startRedis();
    });
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((store) => store.close()));
    });
    afterAll(async () => {
      await server.stop();
    });

    /**
     * Takes `n` leases, 500 at a time: a call answered later than `timeoutMs` (or a grant later
     * than its lease's local deadline) is refused, and the last call of a batch waits for every
     * one before it, so a batch must stay far shorter than a second even on a starved machine.
     */
    const FILL_BATCH = 500;
    const fill = async (store: RedisCapacityStore, n: number): Promise<void> => {
      for (let taken = 0; taken < n; taken += FILL_BATCH) {
        const results = await Promise.all(
          Array.from({ length: Math.min(FILL_BATCH, n - taken) }, () => store.tryAcquire(request)),
        );
        expect(results.flatMap((result) => result.refused ?? [])).toEqual([]);
      }
    };

    it(`keeps ${LEASES} leases alive past their TTL by renewing them, without losing one`, async () => {
      // A TTL that leaves a loaded machine room for a round of renewals (a few hundred ms here).
      const ttlMs = 3_000;
      const store = newStore('renew-many', ttlMs);
      const lost: unknown[] = [];
      store.on('lease_lost', (event) => lost.push(event));
      await fill(store, LEASES);
      // Past the TTL: a lease not renewed since it was taken has expired in Redis by now. (On a
      // starved machine a lease may go overdue and be re-asserted: that is renewal too.)
      await new Promise((resolve) => setTimeout(resolve, ttlMs + 200));
      await store.renewNow();
      expect(lost).toEqual([]);
      expect(store.stats()).toMatchObject({ held: LEASES, unleased: 0, lostTotal: 0 });
      expect((await store.usage()).active).toBe(LEASES);
    }, 60_000);

    it(`${LEASES} leases expiring together: the next acquire is granted at once, and the backlog is purged in bounded steps`, async () => {
      const crashed = newStore('expire-many', 10_000);
      await fill(crashed, LEASES);
      await crashed.close(); // stops renewing without releasing: a crashed instance
      // As if it had crashed a TTL ago: every expiry moved into the past.
      await server.cli(
        'EVAL',
        `local m = redis.call('ZRANGE', KEYS[1], 0, -1)
       for i = 1, #m, 1000 do
         local args = {}
         for j = i, math.min(i + 999, #m) do args[#args + 1] = 1; args[#args + 1] = m[j] end
         redis.call('ZADD', KEYS[1], unpack(args))
       end`,
        '1',
        'voice-admission:{expire-many}:leases',
      );
      const survivor = newStore('expire-many', 1_500);
      // Expired leases stop counting before they are purged.
      const lease = await survivor.tryAcquire({
        tenantId: 'other',
        globalLimit: 1,
        tenantLimit: 1,
      });
      expect(lease.refused).toBeUndefined();
      await expect
        .poll(() => survivor.usage(), { timeout: 10_000, interval: 50 })
        .toEqual({ active: 1, tenants: new Map([['other', 1]]) });
      expect(Number(await server.cli('ZCARD', 'voice-admission:{expire-many}:leases'))).toBe(1);
    }, 60_000);
  },
);

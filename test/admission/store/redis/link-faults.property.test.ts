import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Lease } from '../../../../src/admission/store/capacity-store.js';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../../../src/admission/store/redis/redis-store.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../../../support/tcp-proxy.js';

const CAP = 4;
const TENANT_CAP = 3;
const TENANTS = ['a', 'b'] as const;

/** What one step does, all at once: acquires and releases on either store, and a fault. */
interface Step {
  readonly acquires: readonly { readonly store: 0 | 1; readonly tenant: 0 | 1 }[];
  /** Held leases to release, by position (modulo how many are held). */
  readonly releases: readonly number[];
  /** On the first store's link: none, a reset after this many ms, or a stall past its deadline. */
  readonly fault: { readonly reset: number } | 'stall' | undefined;
}

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  acquires: fc.array(fc.record({ store: fc.constantFrom(0, 1), tenant: fc.constantFrom(0, 1) }), {
    maxLength: 6,
  }),
  releases: fc.array(fc.nat(20), { maxLength: 4 }),
  fault: fc.option(
    fc.oneof(fc.record({ reset: fc.integer({ min: 0, max: 40 }) }), fc.constant('stall' as const)),
    {
      nil: undefined,
    },
  ),
});

/**
 * Two instances on one limiter, the first behind a link that is slow, cut mid-command (ioredis
 * sends again what was left unanswered) or stalled past the call deadline (Redis runs what it
 * was sent once the link flows again). Whatever the instances were told, the caps hold, and
 * once every lease they hold is released Redis holds nothing: no lease counted twice in its
 * tenant, none taken for a caller that was refused.
 */
describeWithBinary('redis-server', 'a faulty link to Redis (redis store)', () => {
  let server: RedisServer;
  let proxy: TcpProxy;
  let runs = 0;
  beforeAll(async () => {
    server = await startRedis();
    proxy = await startTcpProxy(server.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it('keeps the caps, and Redis ends empty once every held lease is released', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 6 }), async (steps) => {
        const name = `link-${++runs}`;
        server.seedLimiter(name);
        const options = { name, leaseTtlMs: 30_000, timeoutMs: 300 };
        const stores: [RedisCapacityStore, RedisCapacityStore] = [
          redisStore({ redis: proxy.url, ...options }),
          redisStore({ redis: server.url, ...options }),
        ];
        for (const store of stores) store.on('error', () => undefined);
        const held: { readonly store: RedisCapacityStore; readonly lease: Lease }[] = [];
        const tenantHeld = (tenant: string) =>
          held.filter(({ lease }) => lease.tenantId === tenant).length;
        try {
          await Promise.all(stores.map((store) => store.usage()));
          proxy.delay(10);
          for (const step of steps) {
            if (step.fault === 'stall') proxy.hold();
            const reset =
              step.fault !== undefined && step.fault !== 'stall'
                ? setTimeout(() => proxy.reset(), step.fault.reset)
                : undefined;
            const released = step.releases
              .map((i) => (held.length === 0 ? undefined : held[i % held.length]))
              .filter((entry, i, all) => entry !== undefined && all.indexOf(entry) === i)
              .map((entry) => {
                held.splice(held.indexOf(entry!), 1);
                return entry!.store.release(entry!.lease);
              });
            const acquired = step.acquires.map(async ({ store, tenant }) => {
              const result = await stores[store]
                .tryAcquire({
                  tenantId: TENANTS[tenant],
                  globalLimit: CAP,
                  tenantLimit: TENANT_CAP,
                })
                .catch(() => undefined);
              if (result !== undefined && result.refused === undefined) {
                held.push({ store: stores[store], lease: result });
                expect(held.length).toBeLessThanOrEqual(CAP);
                expect(tenantHeld(result.tenantId)).toBeLessThanOrEqual(TENANT_CAP);
              }
            });
            await Promise.all([...released, ...acquired]);
            clearTimeout(reset);
            proxy.release();
          }
          proxy.delay(0);
          for (const { store, lease } of held.splice(0)) await store.release(lease);
          // Behind everything the first store sent, on its own connection.
          expect(await stores[0].usage()).toEqual({ active: 0, tenants: new Map() });
        } finally {
          proxy.release();
          proxy.delay(0);
          await Promise.all(stores.map((store) => store.close()));
        }
      }),
      { numRuns: 25 },
    );
  }, 240_000);
});

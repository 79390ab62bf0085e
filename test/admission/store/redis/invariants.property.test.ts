import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import type { CapacityStore } from '../../../../src/admission/store/capacity-store.js';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../../../src/admission/store/redis/redis-store.js';
import { opArbitrary, realClock, runScenario } from '../../../support/admission-scenario.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';

describeWithBinary(
  'redis-server',
  'admission invariants under random interleavings (redis store)',
  () => {
    let server: RedisServer;
    let runs = 0;
    beforeAll(async () => {
      server = await startRedis();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('never exceeds the global or a tenant cap, releases every slot exactly once, ends empty', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(opArbitrary, { minLength: 1, maxLength: 30 }),
          fc.integer({ min: 1, max: 4 }),
          (ops, limit) =>
            runScenario(
              {
                // Real time, 20x faster than the scenario's nominal durations.
                clock: realClock(0.05),
                // A fresh limiter per run, so runs cannot see each other's leases.
                makeStore: () => {
                  const name = `prop-${++runs}`;
                  server.seedLimiter(name);
                  return redisStore({ redis: server.url, name, pollMs: 20 });
                },
                close: (store: CapacityStore) => (store as RedisCapacityStore).close(),
              },
              ops,
              limit,
            ),
        ),
        { numRuns: 60 },
      );
    }, 240_000);
  },
);

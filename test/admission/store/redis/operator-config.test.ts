import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { RedisStoreOptions } from '../../../../src/admission/store/redis/options.js';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../../../src/admission/store/redis/redis-store.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';

const PASSWORD = 'admin-pa55word';
const request = { tenantId: 't', globalLimit: 5, tenantLimit: Number.POSITIVE_INFINITY };

/** The store's failure, its `error` events, and everything printed of them. */
async function firstAcquire(store: RedisCapacityStore) {
  const events: unknown[] = [];
  store.on('error', (event) => events.push(event));
  const failure = await store.tryAcquire(request).then(
    () => undefined,
    (error: unknown) => error,
  );
  return { failure, events, printed: inspect([failure, events], { depth: 10 }) };
}

describeWithBinary('redis-server', 'redis store: Redis as operators configure it', () => {
  let server: RedisServer;
  const stores: RedisCapacityStore[] = [];
  const newStore = (options: Partial<RedisStoreOptions> & { redis: string }) => {
    const store = redisStore({ name: 'ops', timeoutMs: 500, ...options });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startRedis(['--requirepass', PASSWORD]);
    // redis-cli (the test's own commands, seedLimiter) logs in with this.
    process.env.REDISCLI_AUTH = PASSWORD;
    server.seedLimiter('ops');
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    delete process.env.REDISCLI_AUTH;
    await server.stop();
  });

  it('a wrong password is named as such, and never quoted in the errors', async () => {
    const wrong = 'wrong-pa55word';
    const { failure, events, printed } = await firstAcquire(
      newStore({ redis: `redis://:${wrong}@127.0.0.1:${server.port}` }),
    );
    expect((failure as Error).message).toMatch(/WRONGPASS/);
    expect(events).not.toHaveLength(0);
    expect(printed).not.toContain(wrong);
    expect(printed).not.toContain(PASSWORD);
  });

  it('no password where Redis needs one says NOAUTH', async () => {
    const { failure } = await firstAcquire(newStore({ redis: `redis://127.0.0.1:${server.port}` }));
    expect((failure as Error).message).toMatch(/NOAUTH/);
  });
});

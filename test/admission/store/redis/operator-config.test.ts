import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Lease } from '../../../../src/admission/store/capacity-store.js';
import type { RedisStoreOptions } from '../../../../src/admission/store/redis/options.js';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../../../src/admission/store/redis/redis-store.js';
import { REDIS_ACL_COMMANDS } from '../../../../src/admission/store/redis/requirements.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';

const PASSWORD = 'admin-pa55word';
/** The rules docs/redis.md tells operators to grant (default key prefix). */
const REDIS_ACL = /^ACL SETUSER voice on >password (.+)$/m.exec(
  readFileSync(new URL('../../../../docs/redis.md', import.meta.url), 'utf8'),
)![1]!;
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

  describe('an ACL user', () => {
    const userUrl = async (user: string, rules: string) => {
      await server.cli(
        'ACL',
        'SETUSER',
        user,
        'reset',
        'on',
        '>user-pa55word',
        ...rules.split(' '),
      );
      return `redis://${user}:user-pa55word@127.0.0.1:${server.port}`;
    };

    it('with the rules docs/redis.md gives runs every operation of the store', async () => {
      // The rules the store's errors quote are those of the docs.
      expect(REDIS_ACL).toBe(`${REDIS_ACL_COMMANDS} ~voice-admission:* &voice-admission:*`);
      const store = newStore({ redis: await userUrl('voice', REDIS_ACL) });
      const other = newStore({ redis: await userUrl('voice', REDIS_ACL), pollMs: 10 });
      const errors: unknown[] = [];
      for (const s of [store, other]) s.on('error', (event) => errors.push(event));
      const lease = (await store.tryAcquire(request)) as Lease;
      expect(await store.claim(lease, 'job-1')).toEqual({ claimed: true });
      await store.bindSession(lease, 'job-1', 'session-1');
      await store.renewNow();
      expect(await store.usage()).toEqual({ active: 1, tenants: new Map([['t', 1]]) });
      const woken = new Promise((resolve) => other.onCapacityFreed(resolve));
      await store.release(lease);
      await woken;
      expect(errors).toEqual([]);
    });

    it.each([
      ['EVALSHA', '-evalsha', /NOPERM.*'evalsha'/],
      // Refused inside a script, where Redis does not say which command it was.
      ['INFO', '-info', /can't run this command/],
    ])(
      'without %s is told which rules the store needs, and works once given them',
      async (_command, rule, reason) => {
        const store = newStore({ redis: await userUrl('partial', `${REDIS_ACL} ${rule}`) });
        const { failure } = await firstAcquire(store);
        expect((failure as Error).message).toMatch(reason);
        expect((failure as Error).message).toContain(
          `the Redis user needs the ACL rules ${REDIS_ACL_COMMANDS}`,
        );
        await userUrl('partial', REDIS_ACL);
        expect(await store.tryAcquire(request)).toHaveProperty('id');
      },
    );

    it('without SUBSCRIBE is told which rules the store needs, as for a refused script', async () => {
      const store = newStore({ redis: await userUrl('nosub', `${REDIS_ACL} -subscribe`) });
      const events: { operation: string; error: unknown }[] = [];
      store.on('error', (event) => events.push(event));
      store.onCapacityFreed(() => undefined);
      await vi.waitFor(() => expect(events.map((e) => e.operation)).toContain('subscribe'));
      const { message } = events.find((e) => e.operation === 'subscribe')!.error as Error;
      expect(message).toMatch(/NOPERM.*'subscribe'/);
      expect(message).toContain(`the Redis user needs the ACL rules ${REDIS_ACL_COMMANDS}`);
    });
  });

  describe('maxmemory-policy', () => {
    /** The `error` events of a store that has made one call to Redis. */
    const eventsOfStore = async (redis: string) => {
      const store = newStore({ redis });
      const events: { operation: string; error: unknown }[] = [];
      store.on('error', (event) => events.push(event));
      await store.usage();
      return events;
    };
    const url = () => `redis://:${PASSWORD}@127.0.0.1:${server.port}`;
    afterEach(async () => {
      await server.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    });

    it.each(['allkeys-lru', 'allkeys-lfu', 'allkeys-random'])(
      "%s, which may evict the limiter's keys, is reported when the store connects",
      async (policy) => {
        await server.cli('CONFIG', 'SET', 'maxmemory-policy', policy);
        const events = await eventsOfStore(url());
        expect(events).toHaveLength(1);
        expect(events[0]!.operation).toBe('config');
        expect((events[0]!.error as Error).message).toBe(
          `redis maxmemory-policy is ${policy}: Redis may evict the limiter's keys when memory runs out, and the caps no longer hold; set noeviction or a volatile-* policy (the limiter's keys have no expiry, so those never evict them)`,
        );
      },
    );

    it.each(['noeviction', 'volatile-lru', 'volatile-ttl'])(
      '%s is not reported',
      async (policy) => {
        await server.cli('CONFIG', 'SET', 'maxmemory-policy', policy);
        expect(await eventsOfStore(url())).toEqual([]);
      },
    );

    it('a user not allowed CONFIG GET is not checked, and works', async () => {
      await server.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      await server.cli(
        'ACL',
        'SETUSER',
        'noconfig',
        'reset',
        'on',
        '>user-pa55word',
        ...REDIS_ACL.split(' '),
      );
      expect(
        await eventsOfStore(`redis://noconfig:user-pa55word@127.0.0.1:${server.port}`),
      ).toEqual([]);
    });
  });
});

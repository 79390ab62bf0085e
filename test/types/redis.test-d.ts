import type { Cluster, Redis } from 'ioredis';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type CapacityStore,
  type LeaseLossPolicy,
  type LeaseLossReason,
  RedisCapacityStore,
  type RedisConnection,
  type RedisStoreBackgroundOperation,
  type RedisStoreEvents,
  type RedisStoreOptions,
  type RedisStoreStats,
  type RedisUnavailableError,
  type ResolvedRedisOptions,
  redisStore,
} from '../../src/index.js';

const store = redisStore({ redis: 'redis://127.0.0.1:6379', name: 'voice' });

describe('Redis store', () => {
  it('redisStore and the constructor build a RedisCapacityStore from the same options', () => {
    expectTypeOf(redisStore).parameters.toEqualTypeOf<[options: RedisStoreOptions]>();
    expectTypeOf(store).toEqualTypeOf<RedisCapacityStore>();
    expectTypeOf(RedisCapacityStore).constructorParameters.toEqualTypeOf<
      [options: RedisStoreOptions]
    >();
    expectTypeOf(store).toExtend<CapacityStore>();
    // @ts-expect-error the name shared by every instance is required
    redisStore({ redis: 'redis://127.0.0.1:6379' });
    // @ts-expect-error 'end' or 'keep'
    redisStore({ redis: 'redis://127.0.0.1:6379', name: 'voice', leaseLoss: 'drop' });
  });

  it('takes an ioredis client, a Cluster client or a URL, and nothing else', () => {
    expectTypeOf<RedisStoreOptions['redis']>().toEqualTypeOf<string | RedisConnection>();
    expectTypeOf<Redis>().toExtend<RedisConnection>();
    expectTypeOf<Cluster>().toExtend<RedisConnection>();
    // @ts-expect-error ioredis options are no client: pass new Redis(options)
    redisStore({ redis: { host: '127.0.0.1', port: 6379 }, name: 'voice' });
    // @ts-expect-error a port is no address
    redisStore({ redis: 6379, name: 'voice' });
  });

  it('its options are resolved, with defaults, and readable', () => {
    expectTypeOf(store.options).toEqualTypeOf<ResolvedRedisOptions>();
    expectTypeOf<ResolvedRedisOptions['leaseLoss']>().toEqualTypeOf<LeaseLossPolicy>();
    expectTypeOf<LeaseLossPolicy>().toEqualTypeOf<'end' | 'keep'>();
    expectTypeOf<ResolvedRedisOptions['localShare']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<RedisStoreOptions['whenUnavailable']>().toEqualTypeOf<
      'refuse' | { readonly localShare: number } | undefined
    >();
  });

  it('reports background failures and lost leases as events, and counts them in stats()', () => {
    store.on('error', (event) => {
      expectTypeOf(event.operation).toEqualTypeOf<RedisStoreBackgroundOperation>();
    });
    store.on('lease_lost', (event) => {
      expectTypeOf(event).toEqualTypeOf<RedisStoreEvents['lease_lost']>();
    });
    expectTypeOf<RedisStoreEvents['lease_lost']['reason']>().toEqualTypeOf<LeaseLossReason>();
    expectTypeOf<LeaseLossReason>().toEqualTypeOf<'expired' | 'no_room' | 'key_taken'>();
    expectTypeOf<'renew' | 'purge' | 'recovery'>().toExtend<RedisStoreBackgroundOperation>();
    expectTypeOf(store.stats()).toEqualTypeOf<RedisStoreStats>();
    expectTypeOf<RedisStoreStats['lostTotal']>().toBeNumber();
    expectTypeOf(store.close()).toEqualTypeOf<Promise<void>>();
    expectTypeOf(store.renewNow()).toEqualTypeOf<Promise<void>>();
  });

  it('a connection is what the scripts need of a client', () => {
    expectTypeOf<RedisConnection['duplicate']>().returns.toEqualTypeOf<RedisConnection>();
    expectTypeOf<RedisConnection['evalsha']>().returns.toEqualTypeOf<Promise<unknown>>();
  });

  it('RedisUnavailableError is an Error of its own name', () => {
    expectTypeOf<RedisUnavailableError>().toExtend<Error>();
    expectTypeOf<RedisUnavailableError['name']>().toEqualTypeOf<'RedisUnavailableError'>();
  });
});

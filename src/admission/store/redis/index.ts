export type { LeaseLossPolicy, RedisStoreOptions, ResolvedRedisOptions } from './options.js';
export { type RedisConnection, RedisUnavailableError } from './redis-client.js';
export {
  type LeaseLossReason,
  RedisCapacityStore,
  type RedisStoreBackgroundOperation,
  type RedisStoreEvents,
  type RedisStoreStats,
  redisStore,
} from './redis-store.js';

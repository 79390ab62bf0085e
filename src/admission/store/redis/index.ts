export type { RedisStoreOptions, ResolvedRedisOptions } from './options.js';
export { type RedisConnection, RedisUnavailableError } from './redis-client.js';
export {
  RedisCapacityStore,
  type RedisStoreBackgroundOperation,
  type RedisStoreEvents,
  redisStore,
} from './redis-store.js';

export type { RedisStoreOptions } from './options.js';
export { type RedisConnection, RedisUnavailableError } from './redis-client.js';
export { RedisCapacityStore, type RedisStoreEvents, redisStore } from './redis-store.js';

/**
 * What the store needs of a Redis server's configuration, and how it says so when it is not
 * met. See docs/redis.md ("Configuring Redis").
 */

/**
 * The ACL command rules a Redis user needs for the store: the scripts and the wake-up
 * subscription, and the commands the scripts call. The user also needs the limiter's keys and
 * channel (`~voice-admission:* &voice-admission:*` with the default prefix).
 */
export const REDIS_ACL_COMMANDS =
  '+eval +evalsha +subscribe +publish +info +time +zadd +zrem +zmscore +zscore +zcard +zcount +zrangebyscore +hget +hmget +hset +hdel +hincrby +hgetall';

/** A refusal by the user's ACL: of the command itself, or of one called by a script. */
const NOT_PERMITTED = /^NOPERM|user executing the script can't/;

/** A Redis error message, with the rules the store needs when the user's ACL refused it. */
export function explainRefusal(message: string): string {
  if (!NOT_PERMITTED.test(message)) return message;
  // Inside a script Redis does not say which command it refused.
  return `${message} (the Redis user needs the ACL rules ${REDIS_ACL_COMMANDS} on the limiter's keys and channel: see docs/redis.md)`;
}

/**
 * What is wrong with the eviction policy in `reply` (to `CONFIG GET maxmemory-policy`), if
 * anything: one that may drop the limiter's keys. None has an expiry, so `volatile-*` policies
 * never do. Any other reply (a refusal, nothing) says nothing.
 */
export function evictionProblem(reply: unknown): string | undefined {
  const policy = Array.isArray(reply) ? reply[1] : undefined;
  if (typeof policy !== 'string' || !policy.startsWith('allkeys-')) return undefined;
  return `redis maxmemory-policy is ${policy}: Redis may evict the limiter's keys when memory runs out, and the caps no longer hold; set noeviction or a volatile-* policy (the limiter's keys have no expiry, so those never evict them)`;
}

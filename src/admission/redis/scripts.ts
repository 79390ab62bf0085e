/**
 * The Lua scripts behind the Redis store. Each runs atomically in Redis, reads the time from
 * Redis `TIME` (never a client clock), and first drops expired leases, so a lease of a crashed
 * instance stops counting the moment its TTL has passed, whoever looks next.
 *
 * Keys (all in one hash slot, see keys.ts):
 *   leases   ZSET  leaseId -> expiry (ms, Redis time)
 *   owners   HASH  leaseId -> tenantId "\n" claimed idempotency key (may be empty)
 *   tenants  HASH  tenantId -> leases held
 *   claims   HASH  idempotency key -> leaseId "\n" sessionId (may be empty)
 *   epoch    HASH  id, recoverUntil: the limiter's identity, to notice Redis losing its data
 *   released ZSET  leaseId -> until (ms): recently released leases, which a renewal that was
 *                  sent before the release but runs after it must not bring back
 */

const PRELUDE = `
local leases, owners, tenants, claims, epoch, released = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function split(value)
  local sep = string.find(value, '\\n', 1, true)
  if not sep then return value, '' end
  return string.sub(value, 1, sep - 1), string.sub(value, sep + 1)
end

-- Removes one lease and what hangs off it; 1 if it was there.
local function drop(id)
  if redis.call('ZREM', leases, id) == 0 then return 0 end
  local owner = redis.call('HGET', owners, id)
  if owner then
    local tenant, key = split(owner)
    if redis.call('HINCRBY', tenants, tenant, -1) <= 0 then redis.call('HDEL', tenants, tenant) end
    if key ~= '' then
      local claim = redis.call('HGET', claims, key)
      if claim and split(claim) == id then redis.call('HDEL', claims, key) end
    end
    redis.call('HDEL', owners, id)
  end
  return 1
end

local function purge(now)
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  for _, id in ipairs(expired) do drop(id) end
  redis.call('ZREMRANGEBYSCORE', released, '-inf', now)
end

-- The limiter's epoch; created when missing. 'expected' is the epoch the caller saw before:
-- when it is set but the epoch is gone, Redis lost its data, and new leases wait 'ttl' so that
-- instances can first re-assert the leases they hold.
local function current_epoch(expected, fresh, now, ttl)
  local id = redis.call('HGET', epoch, 'id')
  if id then return id, tonumber(redis.call('HGET', epoch, 'recoverUntil')) end
  local recover = 0
  if expected ~= '' then recover = now + ttl end
  redis.call('HSET', epoch, 'id', fresh, 'recoverUntil', recover)
  return fresh, recover
end

-- Adds a lease if the global and tenant caps allow: 1 added, 0 global cap, 2 tenant cap.
local function add(id, tenant, global_limit, tenant_limit, expiry)
  if redis.call('ZCARD', leases) >= global_limit then return 0 end
  local held = tonumber(redis.call('HGET', tenants, tenant) or '0')
  if tenant_limit >= 0 and held >= tenant_limit then return 2 end
  redis.call('ZADD', leases, expiry, id)
  redis.call('HSET', owners, id, tenant .. '\\n')
  redis.call('HINCRBY', tenants, tenant, 1)
  return 1
end
`;

/**
 * ARGV: leaseId, tenantId, globalLimit, tenantLimit (-1: none), ttlMs, expectedEpoch, freshEpoch.
 * Returns { status, epoch, recoverUntil }: status 1 granted, 0 global cap, 2 tenant cap,
 * 3 recovering (Redis lost its data; held leases are being re-asserted).
 */
export const ACQUIRE = `${PRELUDE}
local now = now_ms()
local ttl = tonumber(ARGV[5])
local id, recover = current_epoch(ARGV[6], ARGV[7], now, ttl)
purge(now)
if recover > now then return { 3, id, recover } end
local status = add(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), now + ttl)
return { status, id, recover }
`;

/** ARGV: leaseId, channel, ttlMs. Returns 1 when the lease was held (and announces the free slot). */
export const RELEASE = `${PRELUDE}
local dropped = drop(ARGV[1])
redis.call('ZADD', released, now_ms() + tonumber(ARGV[3]), ARGV[1])
if dropped == 1 then redis.call('PUBLISH', ARGV[2], '1') end
return dropped
`;

/**
 * Renews this instance's leases in one call, and re-asserts those Redis no longer has (lost
 * with its data, or expired while this instance was cut off) where the caps still allow.
 * ARGV: ttlMs, expectedEpoch, freshEpoch, then per lease: id, tenantId, globalLimit,
 * tenantLimit, claimKey. Returns { epoch, lostId1, lostId2, ... }.
 */
export const RENEW = `${PRELUDE}
local now = now_ms()
local ttl = tonumber(ARGV[1])
local id = current_epoch(ARGV[2], ARGV[3], now, ttl)
purge(now)
local result = { id }
for i = 4, #ARGV, 5 do
  local lease = ARGV[i]
  if redis.call('ZSCORE', leases, lease) then
    redis.call('ZADD', leases, 'XX', now + ttl, lease)
  elseif redis.call('ZSCORE', released, lease) then
    -- released after this renewal was sent: not ours to bring back, and not lost either
  elseif add(lease, ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), now + ttl) == 1 then
    local key = ARGV[i + 4]
    if key ~= '' and not redis.call('HGET', claims, key) then
      redis.call('HSET', claims, key, lease .. '\\n')
      redis.call('HSET', owners, lease, ARGV[i + 1] .. '\\n' .. key)
    end
  else
    table.insert(result, lease)
  end
end
return result
`;

/**
 * Claims an idempotency key for a held lease. ARGV: leaseId, key.
 * Returns { 1 } when claimed, { 0, holderSessionId } when a live lease holds it, { -1 } when
 * the lease itself is gone.
 */
export const CLAIM = `${PRELUDE}
local now = now_ms()
purge(now)
if not redis.call('ZSCORE', leases, ARGV[1]) then return { -1 } end
local claim = redis.call('HGET', claims, ARGV[2])
if claim then
  local holder, session = split(claim)
  if holder ~= ARGV[1] then return { 0, session } end
end
redis.call('HSET', claims, ARGV[2], ARGV[1] .. '\\n')
local tenant = split(redis.call('HGET', owners, ARGV[1]))
redis.call('HSET', owners, ARGV[1], tenant .. '\\n' .. ARGV[2])
return { 1 }
`;

/** Records the session created under a claim, for duplicates to be told. ARGV: leaseId, key, sessionId. */
export const BIND_SESSION = `${PRELUDE}
local claim = redis.call('HGET', claims, ARGV[2])
if claim and split(claim) == ARGV[1] then
  redis.call('HSET', claims, ARGV[2], ARGV[1] .. '\\n' .. ARGV[3])
  return 1
end
return 0
`;

/** Returns { active, tenant1, count1, ... } after dropping expired leases. */
export const USAGE = `${PRELUDE}
purge(now_ms())
local result = { redis.call('ZCARD', leases) }
local counts = redis.call('HGETALL', tenants)
for _, v in ipairs(counts) do table.insert(result, v) end
return result
`;

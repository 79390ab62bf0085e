/**
 * The Lua scripts behind the Redis store. Each runs atomically in Redis, reads the time from
 * Redis `TIME` (never a client clock), and first drops expired leases, so a lease of a crashed
 * instance stops counting the moment its TTL has passed, whoever looks next. They are kept to
 * a handful of Redis calls per batch, with bulk ZADD/ZREM/ZMSCORE across its leases: Redis's CPU
 * is what bounds a busy limiter. ZMSCORE needs Redis 6.2 or newer.
 *
 * Keys (all in one hash slot, see keys.ts):
 *   leases   ZSET  tenantId "\n" leaseId -> expiry (ms, Redis time)
 *   tenants  HASH  tenantId -> leases held
 *   claims   HASH  idempotency key -> lease member TAB sessionId (may be empty); a claim whose
 *                  lease is gone is stale and may be taken over
 *   epoch    HASH  id, recoverUntil: the limiter's identity, to notice Redis losing its data
 */

const PRELUDE = `
local leases, tenants, claims, epoch = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Splits 'a' SEP 'b' at the first SEP: a member is tenant "\\n" lease id, a claim member TAB session.
local function split(value, sep)
  local at = string.find(value, sep, 1, true)
  if not at then return value, '' end
  return string.sub(value, 1, at - 1), string.sub(value, at + 1)
end

-- redis.call(command, key[, option], values...) in chunks that fit Lua's stack (pairs stay
-- whole: the chunk size is even); the per-value replies of ZMSCORE are joined in order.
local CHUNK = 1000
local function bulk(command, key, values, option)
  local joined = {}
  for first = 1, #values, CHUNK do
    local last = math.min(first + CHUNK - 1, #values)
    local reply
    if option then
      reply = redis.call(command, key, option, unpack(values, first, last))
    else
      reply = redis.call(command, key, unpack(values, first, last))
    end
    if type(reply) == 'table' then
      for i = 1, #reply do joined[#joined + 1] = reply[i] end
    end
  end
  return joined
end

-- Removes the leases 'members' of tenants[i] (and the claim each made on keys[i], if any) with
-- one ZREM and one HINCRBY per tenant; returns how many were there.
local function drop_all(members, owners, keys)
  if #members == 0 then return 0 end
  local scores = bulk('ZMSCORE', leases, members)
  local gone, freed, seen = {}, {}, {}
  for i = 1, #members do
    local member = members[i]
    if scores[i] and not seen[member] then
      seen[member] = true
      gone[#gone + 1] = member
      local tenant = owners[i] or split(member, '\\n')
      freed[tenant] = (freed[tenant] or 0) + 1
      local key = keys[i]
      if key and key ~= '' then
        local claim = redis.call('HGET', claims, key)
        if claim and split(claim, '\\t') == member then redis.call('HDEL', claims, key) end
      end
    end
  end
  bulk('ZREM', leases, gone)
  for tenant, n in pairs(freed) do
    if redis.call('HINCRBY', tenants, tenant, -n) <= 0 then redis.call('HDEL', tenants, tenant) end
  end
  return #gone
end

local function purge(now)
  drop_all(redis.call('ZRANGEBYSCORE', leases, '-inf', now), {}, {})
end

-- The limiter's epoch; created when missing. 'expected' is the epoch the caller saw before:
-- when it is set but the epoch is gone, Redis lost its data, and new leases wait 'ttl' so that
-- instances can first re-assert the leases they hold.
local function current_epoch(expected, fresh, now, ttl)
  local known = redis.call('HMGET', epoch, 'id', 'recoverUntil')
  if known[1] then return known[1], tonumber(known[2]) end
  local recover = 0
  if expected ~= '' then recover = now + ttl end
  redis.call('HSET', epoch, 'id', fresh, 'recoverUntil', recover)
  return fresh, recover
end

-- Adds leases while the global and tenant caps allow, counting as it goes so that a batch
-- reads the counts once: add(...) returns 1 added, 0 global cap, 2 tenant cap. The leases are
-- written by flush(), with one ZADD and one HINCRBY per tenant.
local function adder()
  local count = redis.call('ZCARD', leases)
  local held, added, pending = {}, {}, {}
  local function add(member, tenant, global_limit, tenant_limit, expiry)
    if count >= global_limit then return 0 end
    if held[tenant] == nil then held[tenant] = tonumber(redis.call('HGET', tenants, tenant) or '0') end
    if tenant_limit >= 0 and held[tenant] >= tenant_limit then return 2 end
    pending[#pending + 1] = expiry
    pending[#pending + 1] = member
    count = count + 1
    held[tenant] = held[tenant] + 1
    added[tenant] = (added[tenant] or 0) + 1
    return 1
  end
  local function flush()
    bulk('ZADD', leases, pending)
    for tenant, n in pairs(added) do redis.call('HINCRBY', tenants, tenant, n) end
    pending, added = {}, {}
  end
  return add, flush
end

-- Takes 'key' for 'member' unless a live lease holds it: 1 taken, or 0 and the holder's session.
local function take_claim(member, key)
  local claim = redis.call('HGET', claims, key)
  if claim then
    local holder, session = split(claim, '\\t')
    if holder ~= member and redis.call('ZSCORE', leases, holder) then return 0, session end
  end
  redis.call('HSET', claims, key, member .. '\\t')
  return 1, ''
end
`;

/**
 * One batch of the releases and acquires issued in one turn of the event loop: releases first
 * (so the acquires see the slots they free), then acquires in order (each sees the leases the
 * earlier ones took). Freed slots are announced once.
 * ARGV: channel, ttlMs, expectedEpoch, freshEpoch, releaseCount, then per release: member,
 * tenantId, claimed key (may be empty); then per acquire: member, tenantId, globalLimit, tenantLimit
 * (-1: none). Returns { epoch, status1, status2, ... } per acquire: 1 granted, 0 global cap,
 * 2 tenant cap, 3 recovering (Redis lost its data; held leases are being re-asserted).
 */
export const BATCH = `${PRELUDE}
local now = now_ms()
local ttl = tonumber(ARGV[2])
local id, recover = current_epoch(ARGV[3], ARGV[4], now, ttl)
local releases_end = 5 + 3 * tonumber(ARGV[5])
local members, owners, keys = {}, {}, {}
for i = 6, releases_end, 3 do
  members[#members + 1] = ARGV[i]
  owners[#owners + 1] = ARGV[i + 1]
  keys[#keys + 1] = ARGV[i + 2]
end
local dropped = drop_all(members, owners, keys)
if dropped > 0 then redis.call('PUBLISH', ARGV[1], dropped) end
purge(now)
local add, flush = adder()
local result = { id }
for i = releases_end + 1, #ARGV, 4 do
  if recover > now then
    result[#result + 1] = 3
  else
    result[#result + 1] = add(ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), now + ttl)
  end
end
flush()
return result
`;

/**
 * Renews this instance's leases in one call, and re-asserts those Redis no longer has (lost
 * with its data, or expired while this instance was cut off) where the caps still allow.
 * ARGV: ttlMs, expectedEpoch, freshEpoch, then per lease: member, tenantId, globalLimit,
 * tenantLimit, claimed key. Returns { epoch, lostMember1, lostMember2, ... }.
 *
 * Always sent with EVAL (see LuaScript.runInOrder): a renewal must reach Redis before any
 * release issued after it, or it could re-assert a lease that was just released.
 */
export const RENEW = `${PRELUDE}
local now = now_ms()
local ttl = tonumber(ARGV[1])
local id = current_epoch(ARGV[2], ARGV[3], now, ttl)
purge(now)
local members = {}
for i = 4, #ARGV, 5 do members[#members + 1] = ARGV[i] end
local scores = bulk('ZMSCORE', leases, members)
local renewed, reasserted = {}, {}
local add, flush = adder()
local result = { id }
for j = 1, #members do
  local i = 4 + (j - 1) * 5
  if scores[j] then
    renewed[#renewed + 1] = now + ttl
    renewed[#renewed + 1] = members[j]
  elseif add(members[j], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), now + ttl) == 1 then
    reasserted[#reasserted + 1] = i
  else
    result[#result + 1] = members[j]
  end
end
bulk('ZADD', leases, renewed, 'XX')
flush()
-- Claims last: take_claim asks whether the holder's lease is live, and it may be one re-asserted above.
for _, i in ipairs(reasserted) do
  if ARGV[i + 4] ~= '' then take_claim(ARGV[i], ARGV[i + 4]) end
end
return result
`;

/**
 * Claims an idempotency key for a held lease. ARGV: member, key.
 * Returns { 1 } when claimed, { 0, holderSessionId } when a live lease holds it, { -1 } when
 * the lease itself is gone.
 */
export const CLAIM = `${PRELUDE}
purge(now_ms())
if not redis.call('ZSCORE', leases, ARGV[1]) then return { -1 } end
local taken, session = take_claim(ARGV[1], ARGV[2])
if taken == 1 then return { 1 } end
return { 0, session }
`;

/** Records the session created under a claim, for duplicates to be told. ARGV: member, key, sessionId. */
export const BIND_SESSION = `${PRELUDE}
local claim = redis.call('HGET', claims, ARGV[2])
if claim and split(claim, '\\t') == ARGV[1] then
  redis.call('HSET', claims, ARGV[2], ARGV[1] .. '\\t' .. ARGV[3])
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

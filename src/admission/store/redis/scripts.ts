/**
 * The Lua scripts behind the Redis store. Each runs atomically in Redis and reads the time from
 * Redis `TIME` (never a client clock). A lease whose expiry has passed stops counting at once,
 * whoever looks next: counts subtract the expired ones (ZCOUNT), and each script drops at most
 * PURGE_MAX of them, so that no script's work grows with the number of leases (a script blocks
 * Redis while it runs). Callers send at most 500 leases per call. Bulk ZADD/ZREM/ZMSCORE keep
 * each script to a handful of Redis calls: Redis's CPU is what bounds a busy limiter. ZMSCORE
 * needs Redis 6.2 or newer.
 *
 * Keys (all in one hash slot, see keys.ts):
 *   leases   ZSET  tenantId "\n" leaseId -> expiry (ms, Redis time)
 *   tenants  HASH  tenantId -> leases held
 *   claims   HASH  idempotency key -> lease member TAB sessionId (may be empty); a claim whose
 *                  lease is gone is stale and may be taken over
 *   claimed  HASH  lease member -> the key it claimed, so a claim goes with its lease however the
 *                  lease goes (released, or expired and purged)
 *   epoch    HASH  id, recoverUntil, server: the limiter's identity and the run_id of the Redis
 *                  process that wrote it, to notice Redis losing data (restart, restored snapshot,
 *                  failover)
 */

const PRELUDE = `
local leases, tenants, claims, epoch, claimed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

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

-- Expired leases dropped per script at most: bounds the time one script blocks Redis.
local PURGE_MAX = 500

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

-- Removes the claim 'member' made, if any.
local function drop_claim(member)
  local key = redis.call('HGET', claimed, member)
  if not key then return end
  redis.call('HDEL', claimed, member)
  local claim = redis.call('HGET', claims, key)
  if claim and split(claim, '\\t') == member then redis.call('HDEL', claims, key) end
end

-- Removes the leases 'members' of tenants[i] (owners may be empty: read from the member) and the
-- claim each made, with one ZREM and one HINCRBY per tenant; returns how many were there.
local function drop_all(members, owners)
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
      drop_claim(member)
    end
  end
  bulk('ZREM', leases, gone)
  for tenant, n in pairs(freed) do
    if redis.call('HINCRBY', tenants, tenant, -n) <= 0 then redis.call('HDEL', tenants, tenant) end
  end
  return #gone
end

-- Drops up to PURGE_MAX expired leases; returns how many expired ones are left (the backlog).
-- Until they are dropped they still count in their tenant's count (a refusal on the safe side)
-- but never in the global one (see live_count).
local function purge(now)
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, PURGE_MAX)
  drop_all(expired, {})
  if #expired < PURGE_MAX then return 0 end
  return redis.call('ZCOUNT', leases, '-inf', now)
end

-- Leases not expired at 'now', in O(log n).
local function live_count(now)
  return redis.call('ZCARD', leases) - redis.call('ZCOUNT', leases, '-inf', now)
end

-- Whether 'member' holds a lease that has not expired.
local function is_live(member, now)
  local expiry = redis.call('ZSCORE', leases, member)
  return expiry and tonumber(expiry) > now
end

-- The limiter's epoch. It is replaced, and new leases wait so that instances can first re-assert
-- the leases they hold, when Redis may have lost writes: the epoch was written by another Redis
-- process than this one (a restart from a snapshot or append-only file, a failover to a
-- replica: a snapshot carries the epoch but not the run_id of the process that loads it), or
-- it is missing while the caller ('expected') saw one before (data wiped). These wait 'ttl'.
-- A missing epoch that nobody asking has seen may still be a lost one: a Redis restarted empty
-- whose first caller is a new instance. A Redis up for longer than a TTL cannot hold a lost
-- lease that is still honoured, so new leases wait until one TTL after the latest moment this
-- process can have started (uptime_in_seconds is whole seconds of Redis's cached clock).
local function current_epoch(expected, fresh, now, ttl)
  local info = redis.call('INFO', 'server')
  local server = string.match(info, 'run_id:(%x+)')
  local known = redis.call('HMGET', epoch, 'id', 'recoverUntil', 'server')
  if known[1] and known[3] == server then return known[1], tonumber(known[2]) end
  local recover = 0
  if known[1] or expected ~= '' then
    recover = now + ttl
  else
    local uptime = tonumber(string.match(info, 'uptime_in_seconds:(%d+)'))
    local started = (math.floor(now / 1000) - uptime + 1) * 1000
    if started + ttl > now then recover = started + ttl end
  end
  redis.call('HSET', epoch, 'id', fresh, 'recoverUntil', recover, 'server', server)
  return fresh, recover
end

-- Adds leases while the global and tenant caps allow, counting as it goes so that a batch
-- reads the counts once: add(...) returns 1 added, 0 global cap, 2 tenant cap. The leases are
-- written by flush(), with one ZADD and one HINCRBY per tenant.
local function adder(now)
  local count = live_count(now)
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

-- The live lease other than 'member' that holds 'key', with its session; nil when none does.
local function other_holder(member, key, now)
  local claim = redis.call('HGET', claims, key)
  if not claim then return nil end
  local holder, session = split(claim, '\\t')
  if holder ~= member and is_live(holder, now) then return holder, session end
  return nil
end

-- Takes 'key' for 'member' (with its session, if known) unless a live lease holds it: 1 taken,
-- or 0 and the holder's session.
local function take_claim(member, key, now, own_session)
  local holder, session = other_holder(member, key, now)
  if holder then return 0, session end
  redis.call('HSET', claims, key, member .. '\\t' .. (own_session or ''))
  redis.call('HSET', claimed, member, key)
  return 1, ''
end
`;

/**
 * One batch of the releases and acquires issued in one turn of the event loop: releases first
 * (so the acquires see the slots they free), then acquires in order (each sees the leases the
 * earlier ones took). Freed slots are announced once, as the instance that freed them (it has
 * woken its own waiters already), a space and how many: another instance may send that many
 * waiters' acquires at once.
 * ARGV: channel, publisher, ttlMs, expectedEpoch, freshEpoch, releaseCount, then per release:
 * member, tenantId; then per acquire: member, tenantId, globalLimit, tenantLimit (-1: none). Returns { epoch, backlog, status1, status2, ... } with a status per acquire:
 * 1 granted, 0 global cap, 2 tenant cap, 3 recovering (Redis may have lost leases; held ones
 * are being re-asserted), and the number of expired leases left to purge. An acquire whose
 * lease is there already (the batch ran before, its reply lost with the connection) is answered
 * 1 while that lease is live, 0 once it has expired, and counted nothing more.
 */
export const BATCH = `${PRELUDE}
local now = now_ms()
local ttl = tonumber(ARGV[3])
local id, recover = current_epoch(ARGV[4], ARGV[5], now, ttl)
local releases_end = 6 + 2 * tonumber(ARGV[6])
local members, owners = {}, {}
for i = 7, releases_end, 2 do
  members[#members + 1] = ARGV[i]
  owners[#owners + 1] = ARGV[i + 1]
end
local dropped = drop_all(members, owners)
if dropped > 0 then redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. dropped) end
local backlog = purge(now)
-- A batch sent again after its connection dropped unanswered (the client resends what was not
-- answered) finds the leases its first run wrote: granted then, counted once.
local asked = {}
for i = releases_end + 1, #ARGV, 4 do asked[#asked + 1] = ARGV[i] end
local written = bulk('ZMSCORE', leases, asked)
local add, flush = adder(now)
local result = { id, backlog }
for i = releases_end + 1, #ARGV, 4 do
  local expiry = written[#result - 1] -- result starts with the epoch and the backlog
  if expiry then
    result[#result + 1] = tonumber(expiry) > now and 1 or 0
  elseif recover > now then
    result[#result + 1] = 3
  else
    result[#result + 1] = add(ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), now + ttl)
  end
end
flush()
return result
`;

/**
 * Renews up to 500 of this instance's leases, and re-asserts those Redis no longer has (lost
 * with its data, or expired while this instance was cut off or paused) where the caps allow
 * and no other live lease has taken the key it claimed. A renewal names each lease only; a
 * lease found missing is answered 3, and sent again with what it takes to re-assert it.
 * A renewed lease that claimed a key takes its claim again if Redis lost it (a restored
 * snapshot can hold the lease without a claim made after it was taken), or is answered 4 if
 * another live lease took the key meanwhile.
 * ARGV: ttlMs, expectedEpoch, freshEpoch, renewCount, claimCount, then renewCount members, then
 * claimCount triples (position of a renewed member among them, from 1; its claimed key; the
 * session bound to it, or ''), then per lease to re-assert: member, tenantId, globalLimit,
 * tenantLimit, claimed key, session. A claim taken again names the session. Returns
 * { epoch, backlog, status1, status2, ... } with a status per lease: 1 renewed, 3 missing (send
 * it again to re-assert), 2 re-asserted, 0 lost (no room), 4 lost (its key belongs to another
 * lease).
 *
 * Always sent with EVAL (see LuaScript.runInOrder): a renewal must reach Redis before any
 * release issued after it, or it could re-assert a lease that was just released.
 */
export const RENEW = `${PRELUDE}
local now = now_ms()
local ttl = tonumber(ARGV[1])
local id = current_epoch(ARGV[2], ARGV[3], now, ttl)
local backlog = purge(now)
local renew_end = 5 + tonumber(ARGV[4])
local claims_end = renew_end + 3 * tonumber(ARGV[5])
local members = {}
for i = 6, renew_end do members[#members + 1] = ARGV[i] end
local named_only = #members
for i = claims_end + 1, #ARGV, 6 do members[#members + 1] = ARGV[i] end
local scores = bulk('ZMSCORE', leases, members)
-- Expired but not purged yet: dropped here, then treated like the missing ones.
local stale = {}
for j = 1, #members do
  if scores[j] and tonumber(scores[j]) <= now then
    stale[#stale + 1] = members[j]
    scores[j] = false
  end
end
drop_all(stale, {})
local renewed, reasserted = {}, {}
local add, flush = adder(now)
local result = { id, backlog }
for j = 1, #members do
  local status
  if scores[j] then
    renewed[#renewed + 1] = now + ttl
    renewed[#renewed + 1] = members[j]
    status = 1
  elseif j <= named_only then
    status = 3
  else
    local i = claims_end + 1 + (j - named_only - 1) * 6
    local key = ARGV[i + 4]
    if key ~= '' and other_holder(members[j], key, now) then
      status = 4
    elseif add(members[j], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), now + ttl) == 1 then
      reasserted[#reasserted + 1] = i
      status = 2
    else
      status = 0
    end
  end
  result[#result + 1] = status
end
bulk('ZADD', leases, renewed, 'XX')
flush()
for i = renew_end + 1, claims_end, 3 do
  local j = tonumber(ARGV[i])
  local key = ARGV[i + 1]
  local claim = redis.call('HGET', claims, key)
  if result[j + 2] == 1 and not (claim and split(claim, '\t') == members[j]) then
    if other_holder(members[j], key, now) then result[j + 2] = 4 else take_claim(members[j], key, now, ARGV[i + 2]) end
  end
end
-- Claims last: take_claim asks whether the holder's lease is live, and it may be one re-asserted above.
for _, i in ipairs(reasserted) do
  if ARGV[i + 4] ~= '' then take_claim(ARGV[i], ARGV[i + 4], now, ARGV[i + 5]) end
end
return result
`;

/**
 * A write that changes nothing (ZADD XX of a member no lease has), refused as any write is while
 * Redis refuses writes (OOM, READONLY, MISCONF, NOREPLICAS): it tells when Redis takes them again.
 */
export const WRITE_PROBE = `
redis.call('ZADD', KEYS[1], 'XX', 0, '')
return 1
`;

/** Drops up to PURGE_MAX expired leases; returns how many expired ones are left. */
export const PURGE = `${PRELUDE}
return purge(now_ms())
`;

/**
 * Claims an idempotency key for a held lease, unless Redis may have lost claims: while the
 * epoch's recovery window is open, claims wait like new leases (the claim a lost write dropped
 * may belong to a live session elsewhere, whose instance has not re-asserted it yet). A lease
 * that passed to a new holder without a script reaches Redis first here.
 * ARGV: member, key, ttlMs, expectedEpoch, freshEpoch. Returns { status, holderSessionId, epoch }:
 * 1 claimed, 0 a live lease holds it (with its session), -1 the lease itself is gone,
 * -2 recovering.
 */
export const CLAIM = `${PRELUDE}
local now = now_ms()
local id, recover = current_epoch(ARGV[4], ARGV[5], now, tonumber(ARGV[3]))
purge(now)
if recover > now then return { -2, '', id } end
if not is_live(ARGV[1], now) then return { -1, '', id } end
local taken, session = take_claim(ARGV[1], ARGV[2], now)
return { taken, session, id }
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

/**
 * Returns { active, tenant1, count1, ... }. While expired leases wait to be purged, tenant
 * counts may still include them; the active count never does.
 */
export const USAGE = `${PRELUDE}
local now = now_ms()
purge(now)
local result = { live_count(now) }
local counts = redis.call('HGETALL', tenants)
for _, v in ipairs(counts) do table.insert(result, v) end
return result
`;

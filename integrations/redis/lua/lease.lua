-- weir concurrency leases: global and per-key in-flight caps shared by
-- every process, as sorted sets of permit units scored by lease expiry.
--
-- Invariants:
--   * every call first purges the units whose lease has expired
--     (score <= now), so a permit held by a dead process comes back at its
--     expiry without anyone releasing it;
--   * acquire takes `cost` units in every set or in none: for each cap,
--     live units + cost <= cap after the call;
--   * a permit is `cost` members "<id>#<1..cost>"; release removes them and is
--     idempotent (a second release removes nothing and notifies no one);
--   * a release that freed units publishes the set's key on ARGV[6], so
--     waiters in every process wake at once instead of polling;
--   * each set's TTL ends no earlier than its latest lease (plus slack):
--     a set with no live lease vanishes.
--
-- KEYS[1..n]  one sorted set per cap (global first, then per-key)
-- ARGV[1]     now in ms (decimal), or "" for the server's TIME
-- ARGV[2]     "acquire" | "release" | "renew"
-- ARGV[3]     permit id (unique per permit, e.g. "<process>:<counter>")
-- ARGV[4]     cost (units)
-- ARGV[5]     lease, ms
-- ARGV[6]     release channel ("" for none)
-- ARGV[7..]   one cap per key (acquire only)
--
-- Returns
--   acquire: { 1, expiry_ms }  or  { 0, denying cap index, earliest expiry
--            among that cap's live leases in ms (-1: none), now_ms }
--   release: { units removed }
--   renew:   { 1, expiry_ms }  or  { 0 } when the permit had expired (its
--            remaining units are removed: the holder lost it)

local now
if ARGV[1] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local op, id, cost, lease = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local channel = ARGV[6]
local slack = 1000

for i = 1, #KEYS do
  redis.call("ZREMRANGEBYSCORE", KEYS[i], "-inf", now)
end

local function extend_ttl(key, expiry)
  local want = expiry - now + slack
  if redis.call("PTTL", key) < want then
    redis.call("PEXPIRE", key, want)
  end
end

if op == "acquire" then
  for i = 1, #KEYS do
    local cap = tonumber(ARGV[6 + i])
    if redis.call("ZCARD", KEYS[i]) + cost > cap then
      local first = redis.call("ZRANGE", KEYS[i], 0, 0, "WITHSCORES")
      local earliest = -1
      if first[2] then earliest = tonumber(first[2]) end
      return { 0, i, earliest, now }
    end
  end
  local expiry = now + lease
  for i = 1, #KEYS do
    for u = 1, cost do
      redis.call("ZADD", KEYS[i], expiry, id .. "#" .. u)
    end
    extend_ttl(KEYS[i], expiry)
  end
  return { 1, expiry }
elseif op == "release" then
  local removed = 0
  for i = 1, #KEYS do
    local freed = 0
    for u = 1, cost do
      freed = freed + redis.call("ZREM", KEYS[i], id .. "#" .. u)
    end
    if freed > 0 and channel ~= "" then
      redis.call("PUBLISH", channel, KEYS[i])
    end
    removed = removed + freed
  end
  return { removed }
elseif op == "renew" then
  local held = true
  for i = 1, #KEYS do
    for u = 1, cost do
      if not redis.call("ZSCORE", KEYS[i], id .. "#" .. u) then held = false end
    end
  end
  if not held then
    for i = 1, #KEYS do
      for u = 1, cost do
        redis.call("ZREM", KEYS[i], id .. "#" .. u)
      end
    end
    return { 0 }
  end
  local expiry = now + lease
  for i = 1, #KEYS do
    for u = 1, cost do
      redis.call("ZADD", KEYS[i], "XX", expiry, id .. "#" .. u)
    end
    extend_ttl(KEYS[i], expiry)
  end
  return { 1, expiry }
end
return redis.error_reply("weir lease.lua: unknown op '" .. tostring(op) .. "' (acquire, release or renew)")

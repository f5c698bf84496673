-- weir shared pause: hold every check of a key until an instant (a server's
-- Retry-After cools the key for the whole fleet), then let the key ease back
-- in (core/src/rate/ramp.rs). Read, and the ramp advanced, by gcra.lua.
--
-- Invariants (those of KeyedGcra::pause_until and Ramp::after_pause):
--   * a pause that ends at or before now changes nothing;
--   * pauses only lengthen: paused_until = max(stored, now + pause);
--   * with a ramp, every pause (re)starts it from paused_until with the step
--     min(paused_until - now, 1 s), keeping a later next admission;
--   * the key's TTL ends no earlier than the pause, the ramp's six steps and
--     its next admission (plus ARGV[4] ms of slack): an expired pause key and
--     an idle one are the same thing.
--
-- The value: "ps:pn" (paused until, seconds and ns), or with a ramp
-- "ps:pn:step:xs:xn" (step in ns, next admission in seconds and ns).
--
-- KEYS[1]  the pause key
-- ARGV[1]  now in ns (decimal), or "" for the server's TIME
-- ARGV[2]  the pause, in ns from now (decimal)
-- ARGV[3]  "1": the key ramps back in after the pause; "0": it does not
-- ARGV[4]  TTL slack, ms
--
-- Returns { paused-until s, ns }

local E9 = 1000000000

local function parse_ns(str)
  local len = #str
  if len <= 9 then return 0, tonumber(str) end
  return tonumber(string.sub(str, 1, len - 9)), tonumber(string.sub(str, len - 8))
end

local function later(as, an, bs, bn)
  return as > bs or (as == bs and an > bn)
end

local now_s, now_n
if ARGV[1] == "" then
  local t = redis.call("TIME")
  now_s, now_n = tonumber(t[1]), tonumber(t[2]) * 1000
else
  now_s, now_n = parse_ns(ARGV[1])
end
local ramp = ARGV[3] == "1"
local slack = tonumber(ARGV[4])

local ds, dn = parse_ns(ARGV[2])
local us, un = now_s + ds, now_n + dn
if un >= E9 then un = un - E9; us = us + 1 end
if not later(us, un, now_s, now_n) then
  return { 0, 0 }
end

local ps, pn = us, un
local xs, xn = nil, nil
local current = redis.call("GET", KEYS[1])
if current then
  local cs, cn, _, cxs, cxn = string.match(current, "^(%d+):(%d+):?(%d*):?(%d*):?(%d*)$")
  cs, cn = tonumber(cs), tonumber(cn)
  if later(cs, cn, ps, pn) then ps, pn = cs, cn end
  if cxs ~= "" then xs, xn = tonumber(cxs), tonumber(cxn) end
end

-- Until when the key matters (ns from now, as seconds and ns).
local hold_s, hold_n = ps, pn
local value
if ramp then
  -- step = min(paused_until - now, 1 s), at least 1 ns
  local gs, gn = ps - now_s, pn - now_n
  if gn < 0 then gn = gn + E9; gs = gs - 1 end
  local step = E9
  if gs == 0 then step = math.max(gn, 1) end
  -- next = max(previous next, paused_until)
  if xs == nil or later(ps, pn, xs, xn) then xs, xn = ps, pn end
  value = ps .. ":" .. pn .. ":" .. step .. ":" .. xs .. ":" .. xn
  -- the ramp ends six steps after paused_until
  local es, en = ps, pn + 6 * step
  while en >= E9 do en = en - E9; es = es + 1 end
  hold_s, hold_n = es, en
  if later(xs, xn, hold_s, hold_n) then hold_s, hold_n = xs, xn end
else
  value = ps .. ":" .. pn
end
local ms = (hold_s - now_s) * 1000 + math.ceil((hold_n - now_n) / 1000000)
redis.call("SET", KEYS[1], value, "PX", math.max(ms, 1) + slack)
return { ps, pn }

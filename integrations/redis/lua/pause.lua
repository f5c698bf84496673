-- weir shared pause: hold every check of a key until an instant (a server's
-- Retry-After cools the key for the whole fleet). Read by gcra.lua.
--
-- Invariants:
--   * pauses only lengthen: an earlier `until` than the one stored changes
--     nothing (KeyedGcra::pause_until);
--   * the key's TTL ends no earlier than the pause (plus ARGV[4] ms of slack),
--     so an expired pause key and a pause that is over are the same thing.
--
-- KEYS[1]  the pause key (paused-until in ns, decimal; digits only)
-- ARGV[1]  now in ns (decimal), or "" for the server's TIME
-- ARGV[2]  the pause, in ns from now (decimal)
-- ARGV[3]  unused (kept for symmetry with gcra.lua's layout)
-- ARGV[4]  TTL slack, ms
--
-- Returns { paused_until_ns, now_ns }

-- Decimal strings of digits compare by length, then lexically.
local function less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

-- a + b for decimal strings.
local function add(a, b)
  local r, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local s = carry + (i > 0 and tonumber(string.sub(a, i, i)) or 0) + (j > 0 and tonumber(string.sub(b, j, j)) or 0)
    r[#r + 1] = tostring(s % 10)
    carry = math.floor(s / 10)
    i, j = i - 1, j - 1
  end
  local s = string.reverse(table.concat(r)):gsub("^0+", "")
  if s == "" then return "0" end
  return s
end

local now = ARGV[1]
if now == "" then
  local t = redis.call("TIME")
  now = t[1] .. string.format("%06d", tonumber(t[2])) .. "000"
end
local pause_ns = ARGV[2]:gsub("^0+", "")
if pause_ns == "" then pause_ns = "0" end
local slack = tonumber(ARGV[4])

local untl = add(now, pause_ns)
local current = redis.call("GET", KEYS[1])
if current and not less(current, untl) then
  return { current, now }
end
-- ceil(pause_ns / 10^6) ms: pause durations stay far below 2^53 ns.
local ms = math.ceil(tonumber(pause_ns) / 1000000)
redis.call("SET", KEYS[1], untl, "PX", ms + slack)
return { untl, now }

-- weir GCRA: several quotas of one request decided and consumed all-or-none.
--
-- The same arithmetic as core/src/rate/gcra.rs + quota.rs, to the nanosecond:
--   scaled(now) = now_ns * limit            span(c)   = c * interval_ns
--   tolerance   = burst * interval_ns
--   new_tat = max(tat, scaled(now)) + span(cost)
--   admitted iff new_tat - tolerance <= scaled(now); else the first instant
--   it would be is ceil((new_tat - tolerance) / limit) nanoseconds.
-- Lua numbers are doubles (exact below 2^53), and these values reach 2^96,
-- so every quantity is an exact unsigned big integer (base 10^6 limbs).
--
-- Invariants:
--   * a denial writes nothing (no cell, no TTL);
--   * an admission writes every cell's new TAT (decimal, scaled units) and a
--     TTL that ends no earlier than the instant the cell is full again (plus
--     ARGV[4] ms of slack), so a missing cell and a full cell are the same
--     thing and idle keys vanish;
--   * a pause holds while paused_until > now, exactly like KeyedGcra.
--
-- KEYS[1..n]    one cell per quota (globals first, then per-key)
-- KEYS[n+1..]   pause keys (paused-until in ns, decimal), zero or more
-- ARGV[1]       now in ns (decimal), or "" for the server's TIME
-- ARGV[2]       cost
-- ARGV[3]       "1" check (consume when admitted), "0" peek
-- ARGV[4]       TTL slack, ms
-- ARGV[5]       n, the number of quota cells
-- ARGV[6..]     limit, interval_ns, burst for each cell
--
-- Returns { admitted (1|0), wait_ns, remaining, reset_ns, retry1_ns, tightest, now_ns }
--   wait_ns     on denial: time until the request would pass ("-1": never,
--               the cost exceeds a burst); "0" when admitted
--   remaining   units a check would admit now, after this call (-1: no quotas)
--   reset_ns    time until the tightest quota is full (and any pause over)
--   retry1_ns   time until a check of one unit would pass
--   tightest    1-based index of the tightest cell (0: none)
--   now_ns      the instant used

local BASE = 1000000

local function norm(a)
  local n = #a
  while n > 0 and a[n] == 0 do a[n] = nil; n = n - 1 end
  return a
end

local function parse(s)
  local a, i = {}, #s
  while i > 0 do
    local j = i - 5
    if j < 1 then j = 1 end
    a[#a + 1] = tonumber(string.sub(s, j, i))
    i = j - 1
  end
  return norm(a)
end

local function tostr(a)
  local n = #a
  if n == 0 then return "0" end
  local parts = { tostring(a[n]) }
  for i = n - 1, 1, -1 do parts[#parts + 1] = string.format("%06d", a[i]) end
  return table.concat(parts)
end

local function cmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  for i = #a, 1, -1 do
    if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
  end
  return 0
end

local function max(a, b) if cmp(a, b) >= 0 then return a end return b end

local function add(a, b)
  local r, carry = {}, 0
  for i = 1, math.max(#a, #b) do
    local s = (a[i] or 0) + (b[i] or 0) + carry
    if s >= BASE then r[i] = s - BASE; carry = 1 else r[i] = s; carry = 0 end
  end
  if carry > 0 then r[#r + 1] = carry end
  return r
end

-- a - b, or zero when b > a.
local function sub(a, b)
  if cmp(a, b) <= 0 then return {} end
  local r, borrow = {}, 0
  for i = 1, #a do
    local d = a[i] - (b[i] or 0) - borrow
    if d < 0 then r[i] = d + BASE; borrow = 1 else r[i] = d; borrow = 0 end
  end
  return norm(r)
end

-- a * m for 0 <= m < 2^32 (each limb product stays below 2^53).
local function mul(a, m)
  if m == 0 then return {} end
  local r, carry = {}, 0
  for i = 1, #a do
    local p = a[i] * m + carry
    carry = math.floor(p / BASE)
    r[i] = p - carry * BASE
  end
  while carry > 0 do
    local c = math.floor(carry / BASE)
    r[#r + 1] = carry - c * BASE
    carry = c
  end
  return r
end

-- ceil(a / d) for 0 < d < 2^32.
local function ceil_div(a, d)
  local q, rem = {}, 0
  for i = #a, 1, -1 do
    local cur = rem * BASE + a[i]
    local qi = math.floor(cur / d)
    q[i] = qi
    rem = cur - qi * d
  end
  q = norm(q)
  if rem > 0 then q = add(q, { 1 }) end
  return q
end

local function todouble(a)
  local x = 0
  for i = #a, 1, -1 do x = x * BASE + a[i] end
  return x
end

-- floor(x / d) when the quotient is known to fit below 2^33.
local function small_quotient(x, d)
  local q = math.floor(todouble(x) / todouble(d))
  while q > 0 and cmp(mul(d, q), x) > 0 do q = q - 1 end
  while cmp(mul(d, q + 1), x) <= 0 do q = q + 1 end
  return q
end

-- ceil(ns / 10^6) as a number of ms (durations here stay far below 2^53 ms).
local function ms_ceil(ns)
  local q = ceil_div(ns, BASE)
  return todouble(q)
end

-- now ----------------------------------------------------------------------
local now
if ARGV[1] == "" then
  local t = redis.call("TIME")
  now = parse(t[1] .. string.format("%06d", tonumber(t[2])) .. "000")
else
  now = parse(ARGV[1])
end

local cost = tonumber(ARGV[2])
local commit = ARGV[3] == "1"
local slack = tonumber(ARGV[4])
local n = tonumber(ARGV[5])

local cells = {}
for i = 1, n do
  local base = 5 + (i - 1) * 3
  local c = {
    limit = tonumber(ARGV[base + 1]),
    interval = parse(ARGV[base + 2]),
    burst = tonumber(ARGV[base + 3]),
  }
  c.now_s = mul(now, c.limit)
  c.tolerance = mul(c.interval, c.burst)
  local stored = redis.call("GET", KEYS[i])
  c.tat = stored and parse(stored) or {}
  cells[i] = c
end

local paused_until = now
for k = n + 1, #KEYS do
  local p = redis.call("GET", KEYS[k])
  if p then paused_until = max(paused_until, parse(p)) end
end
local paused = cmp(paused_until, now) > 0

-- Would `c` units pass cell `c` now? nil, new_tat when yes; the instant (ns) when not.
local function decide(cell, units)
  local new_tat = add(max(cell.tat, cell.now_s), mul(cell.interval, units))
  local earliest = sub(new_tat, cell.tolerance)
  if cmp(earliest, cell.now_s) <= 0 then return nil, new_tat end
  return ceil_div(earliest, cell.limit), nil
end

-- The latest "not until" over every cell and the pause, or nil.
local function decide_all(units)
  local not_until = nil
  if paused then not_until = paused_until end
  local tats = {}
  for i = 1, n do
    local at, new_tat = decide(cells[i], units)
    if at then
      not_until = not_until and max(not_until, at) or at
    end
    tats[i] = new_tat
  end
  return not_until, tats
end

for i = 1, n do
  if cost > cells[i].burst then
    return { 0, "-1", 0, "0", "0", i, tostr(now) }
  end
end

local not_until, new_tats = decide_all(cost)
local admitted = not_until == nil
if admitted and commit then
  for i = 1, n do
    local cell = cells[i]
    local new_tat = new_tats[i]
    if cmp(new_tat, cell.now_s) > 0 then
      local full_in = sub(ceil_div(new_tat, cell.limit), now)
      redis.call("SET", KEYS[i], tostr(new_tat), "PX", ms_ceil(full_in) + slack)
    end
    cell.tat = new_tat
  end
end

-- Figures of the tightest cell: fewest units left, then the later reset.
local tightest, remaining, reset = 0, -1, {}
for i = 1, n do
  local cell = cells[i]
  local backlog = sub(cell.tat, cell.now_s)
  local units = small_quotient(sub(cell.tolerance, backlog), cell.interval)
  local full_in = sub(ceil_div(cell.tat, cell.limit), now)
  if tightest == 0 or units < remaining or (units == remaining and cmp(full_in, reset) > 0) then
    tightest, remaining, reset = i, units, full_in
  end
end
if paused then
  if remaining > 0 then remaining = 0 end
  reset = max(reset, sub(paused_until, now))
end

local retry1 = {}
if not (remaining >= 1 and not paused) or n == 0 then
  local at1 = decide_all(1)
  if at1 then retry1 = sub(at1, now) end
end

local wait = "0"
if not admitted then wait = tostr(sub(not_until, now)) end
return { admitted and 1 or 0, wait, remaining, tostr(reset), tostr(retry1), tightest, tostr(now) }

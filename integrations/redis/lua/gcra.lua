-- weir GCRA: several quotas of one request decided and consumed all-or-none,
-- for a batch of requests decided in order, each exactly as if it were its
-- own call made right after the one before.
--
-- The arithmetic of core/src/rate/gcra.rs + quota.rs, to the nanosecond. The
-- core works in scaled units (ns × limit, exact, up to 2^96); Lua numbers are
-- doubles (exact below 2^53), so every scaled value V is held in mixed radix
--   V = ((s × 10^9) + n) × limit + f,   0 <= n < 10^9,  0 <= f < limit
-- and only ever added, subtracted and compared, each digit far below 2^53.
-- The client computes span(cost) = cost × interval_ns and the tolerance
-- burst × interval_ns in this radix (u128 / BigInt), and checks cost <= burst.
--
--   new_tat = max(tat, now) + span(cost)
--   admitted iff new_tat - tolerance <= now (now in scaled units: (s, n, 0));
--   else the first instant it would be: ceil((new_tat - tolerance) / limit) ns.
--
-- Invariants:
--   * a denial writes nothing (no cell, no TTL);
--   * an admission writes every cell's new TAT ("s:n:f") with a TTL that ends
--     no earlier than the instant the cell is full again (plus ARGV[2] ms of
--     slack): a missing cell and a full cell are the same thing, idle keys
--     vanish;
--   * a pause holds while paused_until > now, and then the ramp's next
--     admission, as in KeyedGcra (the ramp advances on every admission);
--   * a batch is its requests one by one at one instant: request i sees every
--     write of requests 1..i-1 (cells are read once into a table, updated
--     there, and each written once at the end with the TTL of its last
--     admission — the same value and TTL the sequence of calls leaves; a
--     ramp is written through at once).
--
-- A batch names each distinct key once, and each distinct shape of request
-- (a template: the same quotas, cost and flags) once:
-- KEYS         the distinct keys of the batch
-- ARGV[1]      now in ns (decimal), or "" for the server's TIME (one instant
--              for the whole batch)
-- ARGV[2]      TTL slack, ms
-- ARGV[3]      the number of templates, then each template:
--   "1" check (consume when admitted) or "0" peek;
--   "1": also return the cells' TATs and the pause (for figures), else "0";
--   n, the number of cells; m, the number of pause keys; the cost (for the
--   ramp's spacing); per cell: limit, span s, span n, span f, tolerance s,
--   n, f (cells in the core's order: globals first, then per-key)
-- then the number of requests, then per request: its template (1-based),
--   then the indexes in KEYS (1-based) of its n cells and its m pause keys
--   (pause.lua; one may carry the key's ramp).
--
-- Returns integers (each below 2^53, exact as Redis integer replies), per
-- request in order:
--   { admitted (1|0), wait s, wait ns, now s, now ns
--     [, paused-until s, ns (0, 0: none), the ramp's next admission s, ns
--        (0, 0: no ramp), then per cell its TAT s, ns, f] }
--   wait: on denial the time until the request would pass, else 0, 0;
--   the pause and the TATs (after this request) only when it asked for them.

local E9 = 1000000000
-- The hot path calls no Lua function of its own: a `local function` is a new
-- closure on every call of a script, and the comparisons and carries below
-- are cheaper written out.

-- now ----------------------------------------------------------------------
local now_s, now_n
if ARGV[1] == "" then
  local t = redis.call("TIME")
  now_s, now_n = tonumber(t[1]), tonumber(t[2]) * 1000
else
  local str = ARGV[1]
  local len = #str
  if len <= 9 then
    now_s, now_n = 0, tonumber(str)
  else
    now_s, now_n = tonumber(string.sub(str, 1, len - 9)), tonumber(string.sub(str, len - 8))
  end
end

local slack = tonumber(ARGV[2])

-- Templates: { commit, figures, n, m, cost, then 7 numbers per cell }.
local tpl = {}
local a = 4   -- ARGV cursor
for t = 1, tonumber(ARGV[3]) do
  local n = tonumber(ARGV[a + 2])
  local v = { ARGV[a] == "1", ARGV[a + 1] == "1", n, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]) }
  for i = 1, 7 * n do v[5 + i] = tonumber(ARGV[a + 4 + i]) end
  tpl[t] = v
  a = a + 5 + 7 * n
end
local requests = tonumber(ARGV[a])
a = a + 1

-- The batch's view of the keys it touched. tat[key] = { s, n, f } of a cell
-- (absent: not read yet; false: no cell); ttl[key] = the PX of its last
-- admission, written at the end in first-write order (written[]).
-- pv[key]: a pause key's value (false: none), written through on a ramp.
local tat, ttl, written, pv = {}, {}, {}, {}

local out = {}
local o = 0   -- reply cursor

for _ = 1, requests do
  local v = tpl[tonumber(ARGV[a])]
  local commit, figures, n, m, cost = v[1], v[2], v[3], v[4], v[5]
  -- cell i's key is KEYS[ARGV[a + i]], its numbers v[5 + 7(i-1) + 1 .. 7];
  -- pause key k's is KEYS[ARGV[a + n + k]]

  -- The latest "not until" (s, n) over every cell, the pause and the ramp;
  -- wait_s == -1: none (admitted).
  local wait_s, wait_n = -1, 0

  -- Pauses: the latest end over the pause keys ("s:n"). A pause key may
  -- carry the key's ramp ("s:n:step:xs:xn", pause.lua): after the pause,
  -- admissions of the key are spaced (core/src/rate/ramp.rs) until six steps
  -- have passed.
  local pause_s, pause_n = now_s, now_n
  local ramp = nil
  for k = a + n + 1, a + n + m do
    local key = KEYS[tonumber(ARGV[k])]
    local p = pv[key]
    if p == nil then
      p = redis.call("GET", key)
      pv[key] = p
    end
    if p then
      local ps, pn, step, xs, xn = string.match(p, "^(%d+):(%d+):?(%d*):?(%d*):?(%d*)$")
      ps, pn = tonumber(ps), tonumber(pn)
      if ps > pause_s or (ps == pause_s and pn > pause_n) then pause_s, pause_n = ps, pn end
      if step ~= "" then
        ramp = { key = key, from_s = ps, from_n = pn, step = tonumber(step), next_s = tonumber(xs), next_n = tonumber(xn) }
      end
    end
  end
  local paused = pause_s > now_s or (pause_s == now_s and pause_n > now_n)
  if paused then wait_s, wait_n = pause_s, pause_n end
  -- The ramp's next admission (Ramp::decide with nobody ahead).
  if ramp and (ramp.next_s > wait_s or (ramp.next_s == wait_s and ramp.next_n > wait_n))
      and (ramp.next_s > now_s or (ramp.next_s == now_s and ramp.next_n > now_n)) then
    wait_s, wait_n = ramp.next_s, ramp.next_n
  end

  -- Cells: old TAT (for the figures) and new TAT, three numbers each.
  local old, new = {}, {}
  for i = 1, n do
    local c = 5 + 7 * (i - 1)
    local key = KEYS[tonumber(ARGV[a + i])]
    local limit = v[c + 1]
    local ts, tn, tf = 0, 0, 0
    local cell = tat[key]
    if cell == nil then
      local stored = redis.call("GET", key)
      if stored then
        local s1, n1, f1 = string.match(stored, "^(%d+):(%d+):(%d+)$")
        cell = { tonumber(s1), tonumber(n1), tonumber(f1) }
      else
        cell = false
      end
      tat[key] = cell
    end
    if cell then ts, tn, tf = cell[1], cell[2], cell[3] end
    -- new = max(tat, now) + span
    local s2, n2, f2 = ts, tn, tf
    if ts < now_s or (ts == now_s and tn < now_n) then s2, n2, f2 = now_s, now_n, 0 end
    s2, n2, f2 = s2 + v[c + 2], n2 + v[c + 3], f2 + v[c + 4]
    if f2 >= limit then f2 = f2 - limit; n2 = n2 + 1 end
    if n2 >= E9 then n2 = n2 - E9; s2 = s2 + 1 end
    -- earliest = new - tolerance (negative: the cell admits)
    local es, en, ef = s2 - v[c + 5], n2 - v[c + 6], f2 - v[c + 7]
    if ef < 0 then ef = ef + limit; en = en - 1 end
    if en < 0 then en = en + E9; es = es - 1 end
    if es > now_s or (es == now_s and (en > now_n or (en == now_n and ef > 0))) then
      -- not until ceil(earliest / limit) ns
      if ef > 0 then
        en = en + 1
        if en >= E9 then en = 0; es = es + 1 end
      end
      if es > wait_s or (es == wait_s and en > wait_n) then wait_s, wait_n = es, en end
    end
    local j = 3 * i
    old[j - 2], old[j - 1], old[j] = ts, tn, tf
    new[j - 2], new[j - 1], new[j] = s2, n2, f2
  end

  local admitted = wait_s == -1
  if admitted and commit then
    for i = 1, n do
      local j = 3 * i
      local s2, n2, f2 = new[j - 2], new[j - 1], new[j]
      if s2 > now_s or (s2 == now_s and (n2 > now_n or (n2 == now_n and f2 > 0))) then
        -- Full again at ceil(new_tat / limit) ns.
        local fs, fn = s2, n2
        if f2 > 0 then
          fn = fn + 1
          if fn >= E9 then fn = 0; fs = fs + 1 end
        end
        local ds, dn = fs - now_s, fn - now_n
        if dn < 0 then dn = dn + E9; ds = ds - 1 end
        local key = KEYS[tonumber(ARGV[a + i])]
        if ttl[key] == nil then written[#written + 1] = key end
        ttl[key] = ds * 1000 + math.ceil(dn / 1000000) + slack
        tat[key] = { s2, n2, f2 }
      end
      old[j - 2], old[j - 1], old[j] = s2, n2, f2
    end
  end

  -- Ramp::commit: the spacing in force now (none past the sixth step) times
  -- max(cost, 1) after max(next, now).
  if admitted and commit and ramp then
    local ds, dn = now_s - ramp.from_s, now_n - ramp.from_n
    if dn < 0 then dn = dn + E9; ds = ds - 1 end
    if ds >= 0 and ds < 7 then
      local k = math.floor((ds * E9 + dn) / ramp.step)
      if k < 6 then
        local spacing = math.max(math.floor(ramp.step / 2 ^ k), 1)
        local c = math.max(cost, 1)
        local xs, xn = ramp.next_s, ramp.next_n
        if now_s > xs or (now_s == xs and now_n > xn) then xs, xn = now_s, now_n end
        -- spacing × c ns, exactly: c = hi × 10^6 + lo
        local hi, lo = math.floor(c / 1000000), c % 1000000
        local gap_ms = spacing * hi -- ms, since × 10^6 ns
        local gn = spacing * lo
        xs = xs + math.floor(gap_ms / 1000) + math.floor(gn / E9)
        xn = xn + (gap_ms % 1000) * 1000000 + gn % E9
        while xn >= E9 do xn = xn - E9; xs = xs + 1 end
        ramp.next_s, ramp.next_n = xs, xn
        local pttl = redis.call("PTTL", ramp.key)
        local ms = (xs - now_s) * 1000 + math.ceil((xn - now_n) / 1000000) + slack
        local value = ramp.from_s .. ":" .. ramp.from_n .. ":" .. ramp.step .. ":" .. xs .. ":" .. xn
        redis.call("SET", ramp.key, value, "PX", math.max(pttl, ms, 1))
        pv[ramp.key] = value
      end
    end
  end

  out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = admitted and 1 or 0, 0, 0, now_s, now_n
  if not admitted then
    local ds, dn = wait_s - now_s, wait_n - now_n
    if dn < 0 then dn = dn + E9; ds = ds - 1 end
    out[o + 2], out[o + 3] = ds, dn
  end
  o = o + 5
  if figures then
    if paused then
      out[o + 1], out[o + 2] = pause_s, pause_n
    else
      out[o + 1], out[o + 2] = 0, 0
    end
    out[o + 3], out[o + 4] = 0, 0
    if ramp then out[o + 3], out[o + 4] = ramp.next_s, ramp.next_n end
    o = o + 4
    for i = 1, n do
      local j = 3 * i
      out[o + 1], out[o + 2], out[o + 3] = old[j - 2], old[j - 1], old[j]
      o = o + 3
    end
  end
  a = a + 1 + n + m
end

-- The cells the batch admitted into, each once: its last TAT and TTL.
for i = 1, #written do
  local key = written[i]
  local t = tat[key]
  local value
  if t[1] >= 1e14 then value = string.format("%d:%d:%d", t[1], t[2], t[3]) else value = t[1] .. ":" .. t[2] .. ":" .. t[3] end
  redis.call("SET", key, value, "PX", ttl[key])
end
return out

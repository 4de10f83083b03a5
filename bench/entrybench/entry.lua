-- wrk script for bench/entry_window.py: POST /api/me/entries as many different candidates.
--
-- BENCH_REQUESTS: one request per line, tab-separated: bearer token, client address, idempotency
-- key, JSON body. wrk's threads take alternate lines (thread-striped), so each candidate enters
-- once per pass of the file. Each request carries its candidate's own address in X-Forwarded-For
-- (as the load balancer would set it; the bench server trusts loopback as that proxy), so the
-- per-address rate limit applies per candidate, as for real clients, not to the one wrk host.
-- Answers are counted by status: 201 accepted, 200 replayed (same idempotency key), 409 full or
-- duplicate, 422 refused by a rule, 429 rate-limited, other 4xx, 5xx.
-- BENCH_THREADS: wrk's -t.

local tokens, ips, keys, bodies = {}, {}, {}, {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local token, ip, key, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.+)$")
  if token then
    tokens[#tokens + 1] = "Bearer " .. token
    ips[#ips + 1] = ip
    keys[#keys + 1] = key
    bodies[#bodies + 1] = body
  end
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local stride = tonumber(os.getenv("BENCH_THREADS") or "1")

function init(args)
  n = 0
  s201, s200, s409, s422, s429, s4xx, s5xx, sother = 0, 0, 0, 0, 0, 0, 0, 0
end

function request()
  local i = (n * stride + id) % #bodies + 1
  n = n + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-For"] = ips[i],
    ["Authorization"] = tokens[i],
    ["Idempotency-Key"] = keys[i],
  }
  return wrk.format("POST", nil, headers, bodies[i])
end

function response(status, headers, body)
  if status == 201 then s201 = s201 + 1
  elseif status == 200 then s200 = s200 + 1
  elseif status == 409 then s409 = s409 + 1
  elseif status == 422 then s422 = s422 + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status >= 500 then s5xx = s5xx + 1
  elseif status >= 400 then s4xx = s4xx + 1
  else sother = sother + 1 end
end

function done(summary, latency, requests)
  local t = { s201 = 0, s200 = 0, s409 = 0, s422 = 0, s429 = 0, s4xx = 0, s5xx = 0, sother = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + thread:get(k)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"status": {"201": %d, "200": %d, "409": %d, "422": %d, "429": %d, "4xx": %d, "5xx": %d, ' ..
    '"other": %d}, "connect": %d, "read": %d, "write": %d, "timeout": %d, "lines": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    t.s201, t.s200, t.s409, t.s422, t.s429, t.s4xx, t.s5xx, t.sother,
    e.connect, e.read, e.write, e.timeout, #bodies))
end

-- wrk script for bench/release_hour.py: rotates credentials over requests and counts every
-- answer that is not 200 as an error (a redirect to the login page is a failure here).
--
-- Environment:
--   BENCH_CREDENTIALS  file with one header value per line (a session cookie or a bearer token);
--                      empty or unset: no credential header
--   BENCH_HEADER       header that carries it: Cookie or Authorization
-- Every request carries X-Forwarded-Proto: https, as behind the TLS-terminating load balancer.

local credentials = {}
local path = os.getenv("BENCH_CREDENTIALS")
if path and path ~= "" then
  for line in io.lines(path) do
    if line ~= "" then credentials[#credentials + 1] = line end
  end
end
local header = os.getenv("BENCH_HEADER") or "Cookie"

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  -- Threads start far apart in the list so they do not replay each other's candidates.
  position = (id or 0) * 7919
end

function request()
  local headers = { ["X-Forwarded-Proto"] = "https" }
  if #credentials > 0 then
    position = position + 1
    headers[header] = credentials[(position % #credentials) + 1]
  end
  return wrk.format(nil, nil, headers)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local not_ok = 0
  for _, thread in ipairs(threads) do
    not_ok = not_ok + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "not_200": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"credentials": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, not_ok, e.connect, e.read, e.write, e.timeout, #credentials))
end

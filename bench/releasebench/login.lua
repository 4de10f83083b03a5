-- wrk script for the login part of bench/release_hour.py: each request posts the next prepared
-- login body (one JSON object per line, each with its own captcha) from its own client address.
-- Only 200 counts as success.
--
-- Environment: BENCH_CREDENTIALS  file of JSON bodies, one per line
--              BENCH_THREADS      wrk's -t (threads take alternate lines)

local bodies = {}
for line in io.lines(os.getenv("BENCH_CREDENTIALS")) do
  if line ~= "" then bodies[#bodies + 1] = line end
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local stride = tonumber(os.getenv("BENCH_THREADS") or "1")

function init(args)
  bad = 0
  n = 0
end

function request()
  -- Threads take alternate lines, so no captcha is posted twice within one pass of the file.
  local index = (n * stride + id) % #bodies
  n = n + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-For"] = string.format("198.18.%d.%d", math.floor(index / 250) % 250, index % 250 + 1),
  }
  return wrk.format("POST", nil, headers, bodies[index + 1])
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
    latency:percentile(99), latency.max, not_ok, e.connect, e.read, e.write, e.timeout, #bodies))
end

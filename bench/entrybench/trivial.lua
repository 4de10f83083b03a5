-- wrk script for bench/entry_window.py: the trivial view, every answer other than 200 an error.
-- Every request carries X-Forwarded-Proto: https, as behind the TLS-terminating load balancer.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function request()
  return wrk.format(nil, nil, { ["X-Forwarded-Proto"] = "https" })
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
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"status": {"200": %d, "other": %d}, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    summary.requests - not_ok, not_ok, e.connect, e.read, e.write, e.timeout))
end

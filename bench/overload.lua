-- wrk script for `LOAD_MODE=overload make load`: GETs over the paths in LOAD_PATHS (one a line) with
-- LOAD_AUTHORIZATION, no think time; counts what came back (served, refused 503 / 429, anything else)
-- and prints one JSON line. wrk's own timeout (--timeout 2s) counts the requests not answered in time.
local paths = {}
for line in (os.getenv("LOAD_PATHS") or "/"):gmatch("[^\n]+") do
  table.insert(paths, line)
end
wrk.headers["Authorization"] = os.getenv("LOAD_AUTHORIZATION")
local threads = {}
local counter = 0
ok, busy, limited, other = 0, 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[counter % #paths + 1])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif (status == 503 or status == 429) and headers["Retry-After"] then
    if status == 503 then busy = busy + 1 else limited = limited + 1 end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = {ok = 0, busy = 0, limited = 0, other = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "ok": %d, "busy": %d, ' ..
    '"limited": %d, "other": %d, "timeouts": %d, "socket_errors": %d, "status_errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, totals.ok, totals.busy, totals.limited, totals.other,
    errors.timeout, errors.connect + errors.read + errors.write, errors.status))
end

-- wrk script: one request shape from the environment, and one JSON line of results at the end.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local auth = os.getenv("BENCH_AUTHORIZATION")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
expected = tonumber(os.getenv("BENCH_EXPECT") or "200")
unexpected = 0
local threads = {}
local vary = os.getenv("BENCH_VARY") == "1"
local counter = 0

function setup(thread)
  thread:set("offset", #threads * 100003)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

-- With BENCH_VARY=1, `{a}` and `{h}` in the body and the path become an age and a height that change
-- with every request (3,050 combinations), so a cached search never answers: the uncached cost. `{n}`
-- becomes a number no other request of the run uses: BENCH_FIRST, then on, interleaved over BENCH_STRIDE threads.
local first = tonumber(os.getenv("BENCH_FIRST") or "1")
local stride = tonumber(os.getenv("BENCH_STRIDE") or "1")

local function fill(text, age, height, n)
  return (text:gsub("{a}", age):gsub("{h}", height):gsub("{n}", n))
end

if vary then
  local path = wrk.path
  function request()
    counter = counter + 1
    local age, height = tostring(counter % 61 + 18), tostring(math.floor(counter / 61) % 50 + 140)
    local n = tostring(first + (counter - (offset or 0) - 1) * stride + (index or 0))
    local filled = body and body ~= "" and fill(body, age, height, n) or nil
    return wrk.format(nil, fill(path, age, height, n), nil, filled)
  end
end

-- A route that must answer 4xx checks each status. One that must succeed counts the 4xx and 5xx answers
-- wrk counts itself: defining `response` makes wrk hand every body to Lua, which for a page of tens of
-- kilobytes costs the load generator enough CPU (on the service's own cores) to lengthen its tail.
if expected >= 400 then
  function response(status, headers, body)
    if status ~= expected then
      unexpected = unexpected + 1
    end
  end
end

function done(summary, latency, requests)
  local wrong = expected >= 400 and 0 or summary.errors.status
  for _, thread in ipairs(threads) do
    wrong = wrong + (thread:get("unexpected") or 0)
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors + wrong))
end

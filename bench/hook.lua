-- wrk script: POST /api/events with a JSON body, rotating over hook tokens (one a line in the file
-- given after `--`). Requests are formatted once in init(); request() only picks the next one.
-- done() prints one `BENCH_JSON {...}` line for bench/run.py.

local requests = {}
local i = 0
local body = '{"type":"progress","title":"Running the test suite","message":"pytest -q tests/test_api.py",'
  .. '"source":"claude","tool":"Bash","session":"bench-session"}'

function init(args)
  local path = args[1] or os.getenv("BENCH_TOKENS")
  for line in io.lines(path) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", "/api/events", {
        ["Authorization"] = "Bearer " .. line,
        ["Content-Type"] = "application/json",
      }, body)
    end
  end
  assert(#requests > 0, "no tokens in " .. tostring(path))
  -- Threads start at different offsets, so tokens rotate evenly whatever -t is.
  i = math.random(#requests)
end

function request()
  i = i % #requests + 1
  return requests[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non_2xx":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

-- Loaded by wrk (`-s`): prints one JSON line with the exact latency percentiles, and,
-- when BENCH_MAX_REQUESTS is set, stops each wrk thread after that many responses
-- so a run is bounded in count as well as in time (-d).
local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "")
local responses = 0

if max_requests then
  function response(status, headers, body)
    responses = responses + 1
    if responses >= max_requests then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_WRK {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end

-- The done() every benchmark script uses: one RESULT line of JSON that bench/http.py reads.
-- In a script: done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")
return function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

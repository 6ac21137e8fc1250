-- wrk script: GET /healthz, a request that does no work: the HTTP stack's own ceiling
-- (gunicorn, Django's middleware, our request ids, logs and metrics), to read the other
-- figures against.
-- wrk -s bench/lua/healthz.lua URL
function init(args)
  wrk.method = "GET"
  wrk.path = "/healthz"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

-- wrk script: POST /api/v1/coupons/CODE/validate (the checkout's read path).
-- wrk -s bench/lua/validate.lua URL -- KEY CODE MEMBER
function init(args)
  wrk.method = "POST"
  wrk.path = "/api/v1/coupons/" .. args[2] .. "/validate"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.format(
    '{"member":"%s","order_amount":"80.00","currency":"EUR"}', args[3])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

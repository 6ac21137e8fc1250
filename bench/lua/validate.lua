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

-- The RESULT line bench/http.py reads (report.lua, next to this script).
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")

-- wrk script: GET /healthz, a request that does no work: the HTTP stack's own ceiling
-- (gunicorn, Django's middleware, our request ids, logs and metrics), to read the other
-- figures against.
-- wrk -s bench/lua/healthz.lua URL
function init(args)
  wrk.method = "GET"
  wrk.path = "/healthz"
end

-- The RESULT line bench/http.py reads (report.lua, next to this script).
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")

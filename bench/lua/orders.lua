-- wrk script: POST /api/v1/orders, a new order each request, members picked at random.
-- wrk -s bench/lua/orders.lua URL -- KEY PREFIX MEMBERS
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  key, prefix, members = args[1], args[2], tonumber(args[3])
  counter = 0
  math.randomseed(os.time() * 100 + tid)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"external_id":"%s-%d-%d","member":"m-%d","amount":"%d.%02d","currency":"EUR"}',
    prefix, tid, counter, math.random(1, members), math.random(5, 200), math.random(0, 99))
  return wrk.format(nil, "/api/v1/orders", nil, body)
end

-- The RESULT line bench/http.py reads (report.lua, next to this script).
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")

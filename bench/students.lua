-- wrk script: GET one random student of BENCH_FIRST_ID..BENCH_LAST_ID per
-- request (no two connections hammer one row), then the percentiles line.
local first = tonumber(os.getenv("BENCH_FIRST_ID"))
local last = tonumber(os.getenv("BENCH_LAST_ID"))
request = function()
  return wrk.format("GET", "/api/v1/students/" .. math.random(first, last))
end
dofile("bench/percentiles.lua")

-- wrk script: GET one of the paths in BENCH_PATHS (separated by spaces),
-- picked at random per request (different questions at once, where
-- identical ones would share a computation), then the percentiles line.
local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS"), "%S+") do
  table.insert(paths, path)
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
dofile("bench/percentiles.lua")

-- wrk script: create text environment variables with unique names
-- (cf_<$PREFIX>_<thread>_<n>) with the bearer token in $CREDFLOW_TOKEN, and
-- print one summary line. A refused create (409, 400) counts as an error.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("CREDFLOW_TOKEN") or "")
local prefix = os.getenv("PREFIX") or "wrk"

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local n = 0
request = function()
  n = n + 1
  local name = string.format("cf_%s_%d_%d", prefix, tid, n)
  return wrk.format(nil, nil, nil,
    '{"schemaName":"' .. name .. '","displayName":"' .. name .. '","type":"text","value":"v"}')
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk: %.0f req/s  p50 %.2fms  p90 %.2fms  p99 %.2fms  errors %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end

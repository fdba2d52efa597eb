-- wrk script: POST to the URL (a resolve) with the bearer token in
-- $CREDFLOW_TOKEN (none for the bare handler), and print one summary line.
wrk.method = "POST"
local token = os.getenv("CREDFLOW_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk: %.0f req/s  p50 %.2fms  p90 %.2fms  p99 %.2fms  errors %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end

-- bench/wrk/parashift.lua: distinct Parashift deliveries for `hookrx serve` (RESULTS.md, "Session 8").
--
--   wrk -t2 -c32 -d6s -s bench/wrk/parashift.lua http://127.0.0.1:PORT -- TOKEN TAG [TOPIC]
--
-- Every request is a Parashift document event with its own document id (TAG, a per-thread table
-- address, a counter), `Authorization: Bearer TOKEN` (serve's HOOKRX_PARASHIFT_TOKENS). TOPIC
-- defaults to processing-finished, a terminal topic: with --poll each takes the once-per-document
-- marker. Prints `ps-result rps=.. p99_us=.. errors_status=..`.
local counter, tag, token, topic = 0, "0000", "", "processing-finished"

function init(args)
  token = args[1] or ""
  tag = (args[2] or "0000") .. string.gsub(tostring({}), "table: 0x", "")
  topic = args[3] or topic
end

function request()
  counter = counter + 1
  local id = string.format("%s_%010d", tag, counter)
  local body = '{"id":"' .. id .. '","type":"documents","attributes":{"status":"done","processing_state":"done",'
      .. '"document_type":"invoice","updated_at":"2026-06-20T10:00:00.000Z"},"request_id":"req_' .. id
      .. '","topic":"' .. topic .. '"}'
  return wrk.format("POST", "/webhooks/parashift", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token, ["Connection"] = "keep-alive"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("ps-result rps=%.0f p99_us=%d errors_status=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99), summary.errors.status))
end

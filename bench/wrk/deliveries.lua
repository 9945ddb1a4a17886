-- bench/wrk/deliveries.lua: wrk script for the adapter throughput benchmark (bench/wrk/run.sh).
--
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/deliveries.lua http://127.0.0.1:PORT [-- SECRET [TAG [PATH [EVENT]]]]
--
-- PATH (default /webhooks/perfectparser) is the route to POST to (adnanh/webhook serves /hooks/ID).
-- EVENT is `document` (default) or `job`: distinct `extraction.job_completed` deliveries instead,
-- one per extraction (its `extraction_id` carries the counter), which `serve --poll` settles.
--
-- Every request is a distinct, correctly signed 1 KiB PerfectParser `extraction.document_completed`
-- delivery: the body has the shape of bench/bench_core.cpp's 1 KiB fixture, its `document_id` is
-- "doc_" + a run tag (4 hex digits: TAG, or the time) + the wrk thread (2 digits) + a per-thread
-- counter (10 digits), so no two requests share an idempotency key (a repeated key would take the
-- cheap duplicate path), and its X-PerfectParser-Signature is HMAC-SHA256 over the exact body bytes, computed through
-- LuaJIT's FFI with OpenSSL's HMAC() (wrk on Debian is linked against LuaJIT).
--
-- The same script feeds the bare servers and the hookrx ones, so the client's cost is identical.
-- Requests say "Connection: keep-alive": Pistache 0.0.5 closes every connection whose request does
-- not, although HTTP/1.1 connections are persistent by default.
-- It counts non-2xx answers and answers that say "duplicate", and fails the run (exit status 1,
-- "WRK-CHECK FAILED") if there was any, so that a benchmark of 401s cannot pass unnoticed. The last
-- line it prints is machine-readable for run.sh:
--   wrk-result rps=<req/s> p50_us=<..> p99_us=<..> requests=<n> sent=<n> non2xx=<n> duplicates=<n>
--              socket_errors=<n>

local ffi = require("ffi")
ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const char *d, size_t n,
                    unsigned char *md, unsigned int *md_len);
]]
local crypto = ffi.load("libcrypto.so.3")

local default_secret = "wh_sec_9f2c71e04ab35d86c1e7f0a24b9d63e5" -- hookrx_bench_wrk's default
local path = "/webhooks/perfectparser"
local body_size = 1024

-- Main state: hand each thread its index and the run's tag, and keep the threads for done().
local threads = {}
local time_tag = string.format("%04x", os.time() % 65536)

function setup(thread)
  thread:set("thread_index", #threads)
  thread:set("run_tag", time_tag)
  table.insert(threads, thread)
end

-- Thread state ----------------------------------------------------------------------------------

local secret, md, mac, mac_len, hex_digit
counter, non2xx, duplicates = 0, 0, 0

-- The fields before and after the distinct id (document_id, or a job's extraction_id), padded
-- with a `notes` string so that the body is exactly body_size bytes once the 20-character id is in.
local function body_template(event)
  local before = '{"event":"extraction.document_completed","extraction_id":"ext_7f3a9c2e41b84d05",'
      .. '"document_id":"'
  if event == "job" then
    before = '{"event":"extraction.job_completed","document_summary":{"total":1,"completed":1,"failed":0},'
        .. '"extraction_id":"'
  end
  local after = '","status":"completed","parser_id":"prs_invoice_eu_v3",'
      .. '"filename":"invoice-2026-000123.pdf","page_count":2,"confidence":0.974,'
      .. '"parser_name":"Invoices EU v3","credits_used":2,"processing_time_ms":4180,"error_message":null,'
      .. '"created_at":"2026-06-20T10:00:41.000Z","updated_at":"2026-06-20T10:00:45.000Z",'
      .. '"extracted_data":{"invoice_number":"INV-2026-000123","total_amount":1234.56,"currency":"EUR",'
      .. '"invoice_date":"2026-06-18","due_date":"2026-07-18",'
      .. '"vendor":{"name":"Acme Industrial Supplies GmbH","vat_id":"DE123456789","iban":"DE89370400440532013000"},'
      .. '"buyer":{"name":"Northwind Traders Ltd","vat_id":"GB987654321"},"line_items":['
  local close = '"}}'
  local phrase = "Payment due within 30 days of the invoice date. "
  -- As many line items as fit, like bench_core.cpp's fixture.
  local items = {}
  for n = 1, 100 do
    local item = string.format('{"position":%d,"sku":"SKU-%05d","description":"Steel hex bolt M8x%d, zinc plated",'
      .. '"quantity":%d,"unit_price":%d.%02d}', n, 10000 + 37 * n, 20 + n % 60, 1 + n % 9, 1 + n % 40, (13 * n) % 100)
    local list = table.concat(items, ",") .. (n > 1 and "," or "") .. item
    if #before + 20 + #after + #list + #'],"notes":"' + #close > body_size then break end
    items[n] = item
  end
  assert(#items > 0, "the body template is larger than " .. body_size .. " bytes")
  after = after .. table.concat(items, ",") .. '],"notes":"'
  local pad = body_size - (#before + 20 + #after + #close)
  local notes = string.rep(phrase, math.ceil(pad / #phrase)):sub(1, pad)
  return before, after .. notes .. close
end

-- The whole request lives in one C buffer built once per thread: the headers with a placeholder
-- signature, then the body. Per request only the counter digits and the signature are rewritten in
-- place, and one Lua string is made of the buffer, so the client spends as little as it can
-- besides the HMAC itself (the servers are meant to be the bottleneck, not wrk).
local buffer, size, digits_at, signature_at, body_at

function init(args)
  secret = args[1] or default_secret
  if args[2] ~= nil then
    -- run.sh gives every wrk invocation its own tag, so that no two runs share a key either.
    assert(args[2]:match("^%x%x%x%x$"), "the run tag must be 4 hex digits")
    run_tag = args[2]
  end
  if args[3] ~= nil then path = args[3] end
  local event = args[4] or "document"
  assert(event == "document" or event == "job", "EVENT must be document or job")
  md = crypto.EVP_sha256()
  mac = ffi.new("unsigned char[32]")
  mac_len = ffi.new("unsigned int[1]")
  hex_digit = ffi.new("const char[17]", "0123456789abcdef")

  local before, after = body_template(event)
  local body = before .. string.format("%s_%s%02d%010d", event == "job" and "ext" or "doc", run_tag, thread_index, 0)
      .. after
  assert(#body == body_size)
  local host = wrk.headers["Host"] or (wrk.host .. ":" .. tostring(wrk.port))
  local head = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nContent-Type: application/json\r\n"
      .. "User-Agent: PerfectParser-Webhooks/1.0\r\nConnection: keep-alive\r\nContent-Length: " .. #body .. "\r\n"
      .. "X-PerfectParser-Signature: "
  signature_at = #head
  head = head .. string.rep("0", 64) .. "\r\n\r\n"
  body_at = #head
  digits_at = body_at + #before + 10 -- after "doc_", the tag and the thread
  size = #head + #body
  buffer = ffi.new("char[?]", size)
  ffi.copy(buffer, head .. body, size)
end

function request()
  counter = counter + 1
  local n = counter
  for i = digits_at + 9, digits_at, -1 do
    buffer[i] = 48 + n % 10
    n = math.floor(n / 10)
  end
  crypto.HMAC(md, secret, #secret, buffer + body_at, body_size, mac, mac_len)
  for i = 0, 31 do
    buffer[signature_at + 2 * i] = hex_digit[bit.rshift(mac[i], 4)]
    buffer[signature_at + 2 * i + 1] = hex_digit[bit.band(mac[i], 15)]
  end
  return ffi.string(buffer, size)
end

function response(status, _, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx <= 3 then io.stderr:write(string.format("non-2xx answer %d: %s\n", status, tostring(body))) end
  elseif body ~= nil and body:find("duplicate", 1, true) then
    duplicates = duplicates + 1
  end
end

-- Main state again, after the run -----------------------------------------------------------------

function done(summary, latency, _)
  local bad, dups, sent = 0, 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    dups = dups + thread:get("duplicates")
    sent = sent + thread:get("counter")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local rps = summary.requests / (summary.duration / 1e6)
  io.write(string.format("wrk-result rps=%.0f p50_us=%d p99_us=%d requests=%d sent=%d non2xx=%d duplicates=%d socket_errors=%d\n",
    rps, latency:percentile(50), latency:percentile(99), summary.requests, sent, bad, dups, socket_errors))
  if bad > 0 or e.status > 0 or dups > 0 or summary.requests == 0 then
    io.write(string.format("WRK-CHECK FAILED: %d non-2xx answers (wrk counted %d status errors), %d duplicates, %d requests\n",
      bad, e.status, dups, summary.requests))
    os.exit(1)
  end
end

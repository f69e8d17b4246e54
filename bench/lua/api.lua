-- wrk script for bench/api_bench.py: one endpoint per run, product ids rotated across requests.
--
--   wrk ... -s bench/lua/api.lua http://127.0.0.1:PORT -- METHOD PATH_TEMPLATE
--
-- PATH_TEMPLATE may contain {id}, replaced by the next id from $BENCH_IDS_FILE (one a line); each
-- wrk thread starts at a different place in the list. POST sends a small JSON product with
-- `Authorization: Token $BENCH_TOKEN`. With a third argument `conditional`, ids and ETags come from
-- $BENCH_ETAGS_FILE and each GET sends `If-None-Match`. done() prints one machine-readable line for the runner.

local ids = {}
local counter = 0
local method = "GET"
local template = "/"
local headers = {}
local thread_count = 0
local etags = {}

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  method = args[1] or "GET"
  template = args[2] or "/"
  if args[3] == "conditional" then
    -- "id etag" lines: each request sends the product's current ETag, so each answer is a 304.
    for line in io.lines(os.getenv("BENCH_ETAGS_FILE")) do
      local id, etag = string.match(line, "^(%S+) (.+)$")
      ids[#ids + 1] = id
      etags[#etags + 1] = etag
    end
  elseif string.find(template, "{id}", 1, true) then
    for line in io.lines(os.getenv("BENCH_IDS_FILE")) do
      ids[#ids + 1] = line
    end
  end
  -- Threads walk the list from different starting points so they do not ask for the same row.
  counter = (thread_index or 0) * 7919
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    headers["Authorization"] = "Token " .. os.getenv("BENCH_TOKEN")
  end
end

function request()
  counter = counter + 1
  local path = template
  local index = (counter % math.max(#ids, 1)) + 1
  if #ids > 0 then
    path = string.gsub(template, "{id}", ids[index], 1)
  end
  if #etags > 0 then
    return wrk.format("GET", path, {["If-None-Match"] = etags[index]})
  end
  if method == "POST" then
    local body = string.format('{"name": "Created by the benchmark %d-%d", "description": "A product."}',
      thread_index or 0, counter)
    return wrk.format("POST", path, headers, body)
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, '
      .. '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

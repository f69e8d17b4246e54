-- wrk script for bench/edge_bench.py: GET /products/{id}/offers for ids drawn by popularity.
--
--   wrk ... -s bench/lua/popularity.lua http://127.0.0.1:PORT -- hot
--   wrk ... -s bench/lua/popularity.lua http://127.0.0.1:PORT -- zipf 1.0
--   wrk ... -s bench/lua/popularity.lua http://127.0.0.1:PORT -- loguniform 4
--
-- Ids come from $BENCH_IDS_FILE (one a line), most popular first. `hot` asks for the first one
-- only. `zipf S` asks for the k-th with probability proportional to 1/k^S (S = 1: the first is
-- about 10 % of the reads over 10,000 ids, the first 100 about half, and the last 5,000 still
-- 7 %). `loguniform D` gives the products popularities spread evenly on a log scale over D
-- decades (D = 4: from 1 to 10,000), the k-th of n 10^(D(1 - k/n)): a lighter tail (the last
-- 5,000 of 10,000 ids get 1 % of the reads). Each thread draws its own sequence. done() prints one machine-readable line for
-- the runner.

local ids = {}
local cdf = {}
local mode = "hot"

function setup(thread)
  thread:set("thread_seed", math.random(1, 2 ^ 30))
end

function init(args)
  mode = args[1] or "hot"
  for line in io.lines(os.getenv("BENCH_IDS_FILE")) do
    ids[#ids + 1] = line
  end
  if mode == "zipf" or mode == "loguniform" then
    local parameter = tonumber(args[2] or (mode == "zipf" and "1.0" or "4"))
    local total = 0
    for k = 1, #ids do
      if mode == "zipf" then
        total = total + 1 / k ^ parameter
      else
        total = total + 10 ^ (parameter * (1 - k / #ids))
      end
      cdf[k] = total
    end
    for k = 1, #ids do
      cdf[k] = cdf[k] / total
    end
  end
  math.randomseed(thread_seed or os.time())
end

local function draw()
  local u = math.random()
  local low, high = 1, #cdf
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cdf[middle] < u then low = middle + 1 else high = middle end
  end
  return ids[low]
end

function request()
  local id = ids[1]
  if mode ~= "hot" then
    id = draw()
  end
  return wrk.format("GET", "/products/" .. id .. "/offers")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, '
      .. '"errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end

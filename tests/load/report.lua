-- What every benchmark script of wrk shares (loaded by dofile at its top): threads numbered
-- in setup, answers counted by status in each thread, and at the end the totals and p50/p99
-- printed for tests/load/bench.py to read.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  for status, n in pairs(totals) do
    io.write(string.format("STATUS %d %d\n", status, n))
  end
  io.write(string.format("LATENCY %f %f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

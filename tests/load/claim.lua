-- Flash claim: every request a different resident's token (prepared before the clock starts).
-- Needs globals from the generated data file: tokens (array), batch_id.
local threads = {}
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  dofile(args[1])
  per_thread = math.floor(#tokens / 2)
  counter = id * per_thread
  statuses = {}
end

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/api/v1/batches/" .. batch_id .. "/claims",
    { ["Authorization"] = "Bearer " .. token }, "")
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

-- Redemption: merchants redeem distinct claimed vouchers with idempotency keys; every tenth
-- request retries the previous one (same key, same body). Needs globals from the data file:
-- codes (array), merchants (array of tokens, one per merchant).
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  dofile(args[1])
  per_thread = math.floor(#codes / 2)
  counter = id * per_thread
  statuses = {}
  last = nil
end

function request()
  if last ~= nil and counter % 10 == 0 and not retried then
    retried = true
    return last
  end
  retried = false
  counter = counter + 1
  local code = codes[(counter % #codes) + 1]
  local merchant = merchants[(counter % #merchants) + 1]
  local body = '{"code":"' .. code .. '","order_amount_fen":8800,"order_ref":"bench-' .. counter .. '"}'
  last = wrk.format("POST", "/api/v1/merchant/redemptions", {
    ["Authorization"] = "Bearer " .. merchant,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. code,
  }, body)
  return last
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

-- Redemption: merchants redeem distinct claimed vouchers with idempotency keys; every tenth
-- request retries the previous one (same key, same body). Needs globals from the data file:
-- codes (array), merchants (array of tokens, one per merchant).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

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

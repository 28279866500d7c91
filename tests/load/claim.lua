-- Flash claim: every request a different resident's token (prepared before the clock starts).
-- Needs globals from the generated data file: tokens (array), batch_id.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
local counter = 0

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

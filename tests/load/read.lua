-- Reads under load: GET `target` with the tokens of the data file in turn (many residents for
-- the wallet, one bureau token for the summary). Needs globals: target, tokens (array).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
local counter = 0

function init(args)
  dofile(args[1])
  counter = id * 7919
  statuses = {}
end

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("GET", target, { ["Authorization"] = "Bearer " .. token })
end

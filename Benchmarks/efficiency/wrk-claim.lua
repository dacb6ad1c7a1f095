-- wrk script: each request is a claim by a fresh user (so every claim can be granted).
-- Env: CLAIM_PATH (/v1/campaigns/ID/claims), CLAIM_KEY (issue key), CLAIM_PREFIX (run label).
local counter = 0
local threads = 0
local prefix = os.getenv("CLAIM_PREFIX") or "w"
local path = os.getenv("CLAIM_PATH")
local headers = { ["Authorization"] = "Bearer " .. (os.getenv("CLAIM_KEY") or ""), ["Content-Type"] = "application/json" }

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local id = prefix .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  return wrk.format("POST", path, headers, '{"user_id":"u' .. id .. '","request_id":"r' .. id .. '"}')
end

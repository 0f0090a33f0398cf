-- wrk script: each request uses the next bearer token of this thread's share of TOKENS_FILE,
-- so FCFS requests come from distinct users. Counts 202 (accepted) per thread and prints a JSON
-- summary line at the end. Env: TOKENS_FILE, THREADS, METHOD, PATH_, BODY (optional).
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  -- init runs in each thread's own Lua state, where `threads` is empty: take the count from env.
  local n, i = tonumber(os.getenv("THREADS")), 0
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if i % n == tid then table.insert(tokens, line) end
    i = i + 1
  end
  accepted, other = 0, 0
  method = os.getenv("METHOD")
  path = os.getenv("PATH_")
  body = os.getenv("BODY")
  if body == "" then body = nil end
end

function request()
  local t = tokens[counter]
  counter = counter + 1
  if counter > #tokens then counter = 1 end
  local headers = { ["Authorization"] = "Bearer " .. t }
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local acc, oth = 0, 0
  for _, t in ipairs(threads) do
    acc = acc + t:get("accepted")
    oth = oth + t:get("other")
  end
  io.write(string.format(
    '{"requests":%d,"accepted":%d,"other":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"socketErrors":%d}\n',
    summary.requests, acc, oth, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

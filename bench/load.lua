-- wrk script: POST a dispatch body with a varied context and a unique request_id per request.
-- BENCH_PATH picks the endpoint; the vocabulary lines below are filled in by bench/http_bench.py.
local subjects = {SUBJECTS}
local grades = {GRADES}
local regions = {REGIONS}
local path = os.getenv("BENCH_PATH") or "/dispatch"
local run = os.getenv("BENCH_RUN") or "0"
local api_key = os.getenv("BENCH_API_KEY") or ""
local headers = {["Content-Type"] = "application/json"}
if api_key ~= "" then headers["Authorization"] = "Api-Key " .. api_key end
local counter = 0
local threads = 0
thread_no = 0  -- a global: setup() sets it in each thread's own Lua state

function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

function init(args)
  math.randomseed(tonumber(run) + thread_no * 7919)
end

function request()
  counter = counter + 1
  local rid = string.format("%08x-%04x-4000-8000-%012x", tonumber(run) % 4294967296, thread_no, counter)
  local body = string.format('{"subject":"%s","grade_band":"%s","region":"%s"}',
    subjects[math.random(#subjects)], grades[math.random(#grades)], regions[math.random(#regions)])
  return wrk.format("POST", path .. "?request_id=" .. rid, headers, body)
end

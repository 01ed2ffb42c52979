-- wrk script for bench/load.py: replays prepared requests and reports JSON.
--
-- LOTSA_REQUESTS names a file with one request a line, tab-separated:
--   method, path, cookie header, Accept header, url-encoded body (may be empty).
-- Each wrk thread walks its own share of the list round-robin, so the
-- logged-in sessions (one cookie per line) share the load and no two threads
-- send the same line at once. "__N__" in a body becomes a running number, so
-- each saved answer differs from the last (an unchanged answer is not a new version). A response with
-- a status other than LOTSA_EXPECT counts as wrong; the totals and the latency
-- percentiles are written as JSON to LOTSA_REPORT when the run is done.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local threads_total = tonumber(os.getenv("LOTSA_THREADS"))
  requests = {}
  local number = 0
  for line in io.lines(os.getenv("LOTSA_REQUESTS")) do
    number = number + 1
    -- Line k belongs to thread (k mod threads) + 1; a thread with no line of its own shares the first.
    if (number - 1) % threads_total == id - 1 then
      table.insert(requests, parse(line))
    end
  end
  if #requests == 0 then
    for line in io.lines(os.getenv("LOTSA_REQUESTS")) do
      table.insert(requests, parse(line))
      break
    end
  end
  expect = tonumber(os.getenv("LOTSA_EXPECT"))
  index = 0
  counter = id * 1000000
  wrong = 0
  statuses = {}
end

function parse(line)
  local method, path, cookie, accept, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
  local headers = {["Accept"] = accept}
  if cookie ~= "" then headers["Cookie"] = cookie end
  if body ~= "" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  else
    body = nil
  end
  local numbered = body ~= nil and body:find("__N__", 1, true) ~= nil
  return {method = method, path = path, headers = headers, body = body, numbered = numbered,
          ready = (not numbered) and wrk.format(method, path, headers, body) or nil}
end

function request()
  index = index % #requests + 1
  local r = requests[index]
  if r.ready then return r.ready end
  counter = counter + 1
  return wrk.format(r.method, r.path, r.headers, (r.body:gsub("__N__", tostring(counter))))
end

function response(status, headers, body)
  if status ~= expect then
    wrong = wrong + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local wrong_total = 0
  local seen = {}
  for _, thread in ipairs(threads) do
    wrong_total = wrong_total + thread:get("wrong")
    for status, count in pairs(thread:get("statuses")) do
      seen[#seen + 1] = string.format('"%d": %d', status, count)
    end
  end
  local out = io.open(os.getenv("LOTSA_REPORT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_timeout": %d, "wrong_status": %d, "wrong_statuses": {%s}, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, wrong_total, table.concat(seen, ", "),
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
  out:close()
end

-- wrk script of bench/ingest-bench.py: every request POSTs RECORDS new
-- NDJSON records (ids unique across threads and requests), then the
-- latency percentiles are printed as "p50_us N" / "p99_us N".
local counter = 0
local thread_id = 0
local nthreads = 0

function setup(thread)
        nthreads = nthreads + 1
        thread:set("tid", nthreads)
end

function init(args)
        thread_id = tid or 0
        records = tonumber(os.getenv("RECORDS") or "100")
        key = os.getenv("KEY") or ""
        prefix = os.getenv("PREFIX") or "x"
end

function request()
        counter = counter + 1
        local lines = {}
        for i = 1, records do
                lines[i] = string.format('{"id":"%s-%d-%d-%d","ts":"2026-01-02T03:04:05Z","kind":"click","value":%d.5,"count":%d,"ok":true}',
                        prefix, thread_id, counter, i, i, i)
        end
        local body = table.concat(lines, "\n") .. "\n"
        return wrk.format("POST", nil, {["Content-Type"] = "application/x-ndjson", ["Authorization"] = "Bearer " .. key}, body)
end

function done(summary, latency, requests)
        io.write(string.format("p50_us %d\np99_us %d\nrequests %d\nerrors %d\n", latency:percentile(50),
                latency:percentile(99), summary.requests,
                summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

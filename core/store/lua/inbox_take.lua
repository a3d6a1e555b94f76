-- A drain job's batch off the inbox (core.store.inbox.Inbox.take). An id whose record is gone
-- (deleted by hand) or no longer waiting (merged into a delivery of its person meanwhile) is dropped.
-- KEYS: the inbox, DRAIN_PENDING, the waiting index, the batch list. ARGV: the job id, the batch
-- size, now, the batch list's TTL, the submission key prefix, DRAIN_PENDING's claim TTL, the waiting
-- statuses (JSON), then the fields of DeliveryState (status first).
-- Returns the ids taken, their DeliveryState rows, then 1 if the caller must queue another drain job
-- for what is left.
redis.call('DEL', KEYS[2])
local ids = redis.call('LPOP', KEYS[1], ARGV[2]) or {}
local taken, rows = {}, {}
local waiting = {}
for _, status in ipairs(cjson.decode(ARGV[7])) do waiting[status] = true end
for _, id in ipairs(ids) do
  local row = redis.call('HMGET', ARGV[5] .. id, unpack(ARGV, 8))
  if row[1] and waiting[row[1]] then
    redis.call('HSET', ARGV[5] .. id, 'job_id', ARGV[1])
    redis.call('ZADD', KEYS[3], ARGV[3], id)
    taken[#taken + 1] = id
    rows[#rows + 1] = row
  end
end
if #taken > 0 then
  redis.call('RPUSH', KEYS[4], unpack(taken))
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
local more = 0
if redis.call('LLEN', KEYS[1]) > 0 and redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[6]) then more = 1 end
return {taken, rows, more}

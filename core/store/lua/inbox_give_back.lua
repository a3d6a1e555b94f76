-- Ids back to the head of the inbox, in order, as if never taken, and off the batch list, so the
-- failure callback leaves them alone (core.store.inbox.Inbox.give_back). Only ids still on this
-- batch's list: giving back twice, or after the callback handed them on, changes nothing.
-- KEYS: the inbox, the waiting index, the batch list. ARGV: the submission key prefix, then the ids.
for i = #ARGV, 2, -1 do
  if redis.call('LREM', KEYS[3], 0, ARGV[i]) > 0 then
    redis.call('LPUSH', KEYS[1], ARGV[i])
    redis.call('HDEL', ARGV[1] .. ARGV[i], 'job_id')
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end

-- One Rotor request taken from an account's quota window, if its kind may still spend one
-- (core.store.quota.QuotaLedger.reserve). KEYS[1]: the window's hash. ARGV[1]: the ceiling for this
-- kind of request, ARGV[2]: the hash's TTL. Returns {1 if granted else 0, the count now}.
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
if redis.call('HEXISTS', KEYS[1], 'exhausted') == 1 or used >= tonumber(ARGV[1]) then
  return {0, used}
end
used = redis.call('HINCRBY', KEYS[1], 'used', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {1, used}

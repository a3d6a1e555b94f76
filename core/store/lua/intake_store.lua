-- include: resolve_person, over_limit
-- Intake's one round trip (core.store.intake's docstring says what it does, in order).
-- KEYS: the record, its history, the inbox, DRAIN_PENDING, the counters, the failed index; then the
-- identity keys (h.identity of them, phone first), the limits' counters (one for each of h.limits)
-- and the idempotency key (if h.idempotency, its TTL, is present).
-- ARGV[1]: this submission's header, ARGV[2]: the settings (both JSON, built by IntakeScript);
-- ARGV[3..]: the record's fields and values.
local h, s = cjson.decode(ARGV[1]), cjson.decode(ARGV[2])
local identity_keys = {unpack(KEYS, 7, 6 + h.identity)}
local limit_keys = {unpack(KEYS, 7 + h.identity, 6 + h.identity + #h.limits)}
local idempotency_key = KEYS[7 + h.identity + #h.limits]
local refused = over_limit(limit_keys, h.limits)
if refused then return refused end
local status, event, record = h.status, h.event, {unpack(ARGV, 3)}
local function set(field, value) record[#record + 1] = field; record[#record + 1] = value end
if idempotency_key then
  local first = redis.call('GET', idempotency_key)
  -- A claim counts once its record exists: a script that failed after claiming stored nothing.
  if first and redis.call('EXISTS', s.submission_prefix .. first) == 1 then
    status, event = s.duplicate, h.duplicate_event:gsub('FIRST', first)
    set('status', status); set('duplicate_of', first)
  else
    redis.call('SET', idempotency_key, h.id, 'EX', h.idempotency)
  end
end
local drain = 0
if h.deliver and status ~= s.duplicate then
  if #identity_keys > 0 then
    local person = resolve(identity_keys, h.new_person, s.person_ttl, s.persons)
    set('person', person)
    local pending = s.persons.prefix .. person .. s.persons.pending
    redis.call('RPUSH', pending, h.id)
    redis.call('EXPIRE', pending, s.person_ttl)
  end
  redis.call('RPUSH', KEYS[3], h.id)
  if redis.call('SET', KEYS[4], '1', 'NX', 'EX', s.drain_ttl) then drain = 1 end
end
redis.call('HSET', KEYS[1], unpack(record))
redis.call('RPUSH', KEYS[2], event)
redis.call('HINCRBY', KEYS[5], h.counters[status], 1)
if s.final[status] then
  redis.call('EXPIRE', KEYS[1], s.retention)
  redis.call('EXPIRE', KEYS[2], s.retention)
end
if status == s.failed then redis.call('ZADD', KEYS[6], h.now, h.id) end
return {status, drain}

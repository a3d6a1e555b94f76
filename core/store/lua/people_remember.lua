-- include: current_person
-- A delivery's writes to the person (core.store.people.People.remember_delivery), on the person it is
-- now: a fold may have happened while the delivery ran. A folded person's record goes to the
-- survivor, unless the survivor has a Rotor lead of its own (they are two leads; the survivor's gets
-- later updates).
-- KEYS[1]: the person's record. ARGV: the person keys' pieces and fields (JSON), the person id, the
-- lead id, the record's TTL, 1 to drop ``lost``, then the fields and values to write.
local persons, person, lead_id = cjson.decode(ARGV[1]), ARGV[2], ARGV[3]
local survivor = current(persons, person)
local key = KEYS[1]
if survivor ~= person then
  key = persons.prefix .. survivor
  local own = redis.call('HGET', key, 'lead_id')
  if lead_id == '' or (own and own ~= '' and own ~= lead_id) then return 0 end
elseif ARGV[5] == '1' then
  redis.call('HDEL', key, 'lost')
end
redis.call('HSET', key, 'lead_id', lead_id, unpack(ARGV, 6))
redis.call('EXPIRE', key, ARGV[4])
return 1

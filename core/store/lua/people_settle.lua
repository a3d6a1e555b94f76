-- include: current_person
-- Settled submissions off the person's pending list, and off the survivor's should a fold have moved
-- the list meanwhile (core.store.people.People.settle).
-- KEYS[1]: the person's pending list. ARGV: the person keys' pieces and fields (JSON), the person id,
-- then the submission ids.
local persons, person = cjson.decode(ARGV[1]), ARGV[2]
local survivor = current(persons, person)
local survivors = persons.prefix .. survivor .. persons.pending
for i = 3, #ARGV do
  redis.call('LREM', KEYS[1], 0, ARGV[i])
  if survivor ~= person then redis.call('LREM', survivors, 0, ARGV[i]) end
end

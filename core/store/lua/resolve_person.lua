-- include: current_person
-- resolve(identity keys present, phone first; a new person id; the TTL; persons) returns the person
-- id, folding the persons the keys name into one (core.store.identity's docstring). persons: as
-- current's; the persons' keys are built from its pieces.
-- Every id an identity key holds is first followed along its folds to the person it is now: a key
-- set before its person was folded still names the old id, and comparing or folding that stale id
-- would re-point it (and split the person it was folded into from the one it is now proved to be).
local function resolve(identity_keys, new_person, ttl, persons)
  local person = nil
  local known = {}
  for i, key in ipairs(identity_keys) do
    known[i] = redis.call('GET', key)
    if known[i] then known[i] = current(persons, known[i]) end
    if known[i] and not person then person = known[i] end
  end
  person = person or new_person
  for i, key in ipairs(identity_keys) do
    -- Follow again: an earlier fold in this loop may have folded this one's person already.
    local other = known[i] and current(persons, known[i])
    if other and other ~= person then
      local from, into = persons.prefix .. other, persons.prefix .. person
      -- One by one: unpack() of a long list would fail the script halfway (scripts do not roll back).
      while redis.call('LMOVE', from .. persons.pending, into .. persons.pending, 'LEFT', 'RIGHT') do end
      local lead_id = redis.call('HGET', from, 'lead_id')
      -- '' is a delivery whose answer named no lead (core.rotor.UpsertResult): nothing to adopt.
      if lead_id and lead_id ~= '' and redis.call('HSETNX', into, 'lead_id', lead_id) == 1 then
        -- What that lead holds from us comes with it, so the next update keeps its notes and dedup
        -- knows what it has.
        for _, field in ipairs(persons.held) do
          local value = redis.call('HGET', from, field)
          if value then redis.call('HSETNX', into, field, value) end
        end
        redis.call('EXPIRE', into, ttl)  -- the survivor may have had no record yet: none lives forever
      end
      -- What a lead Rotor lost held from us (it has no lead id then) is sent with the survivor's next upsert.
      local lost = redis.call('HGET', from, 'lost')
      if lost and not redis.call('HGET', into, 'lead_id') and redis.call('HSETNX', into, 'lost', lost) == 1 then
        redis.call('EXPIRE', into, ttl)
      end
      redis.call('SET', from .. persons.folded_into, person, 'EX', ttl)
    end
    redis.call('SET', key, person, 'EX', ttl)
  end
  return person
end

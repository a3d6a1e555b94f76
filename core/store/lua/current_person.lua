-- current(persons, person) follows a person id along its folds to the person it is now.
-- persons: the person keys' pieces and fields (core.store.identity.PERSONS), decoded.
local function current(persons, person)
  for _ = 1, persons.max_folds do  -- a fold chain is short; the bound only guards against a cycle
    local folded = redis.call('GET', persons.prefix .. person .. persons.folded_into)
    if not folded then break end
    person = folded
  end
  return person
end

-- include: resolve_person
-- The person a lead's phone and email belong to (core.store.identity.PersonIndex.resolve).
-- KEYS: the identity keys present, phone first. ARGV[1]: a new person id, ARGV[2]: the TTL,
-- ARGV[3]: the person keys' pieces and fields (JSON).
return resolve(KEYS, ARGV[1], ARGV[2], cjson.decode(ARGV[3]))

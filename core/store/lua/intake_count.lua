-- include: over_limit
-- A post counted against its rate limits ahead of its store (core.store.intake.IntakeScript.count).
-- KEYS: the limits' counters. ARGV[1]: the limits, {amount, seconds, text} each, as JSON.
return over_limit(KEYS, cjson.decode(ARGV[1])) or {'counted'}

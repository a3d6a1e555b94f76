-- over_limit(limit_keys, limits) counts a post against each rate limit, fixed window: limit_keys[i]
-- counts limits[i], {amount, seconds, text}. Returns the refusal ({'limited', text, seconds left})
-- of the first it is over, else nil.
local function over_limit(limit_keys, limits)
  for i, limit in ipairs(limits) do
    local key = limit_keys[i]
    local hits = redis.call('INCR', key)
    if hits == 1 then redis.call('EXPIRE', key, limit[2]) end
    if hits > limit[1] then return {'limited', limit[3], redis.call('TTL', key)} end
  end
end

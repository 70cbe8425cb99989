"""The Lua scripts of the shared counters: each Redis operation is ONE round trip, so a check and
its increment cannot interleave across gunicorn workers and instances (see `common.counters`).

Scripts touch several keys, so they need one Redis (or keys in one hash slot); Redis Cluster is
not supported.
"""

# The steps the scripts are made of, as Lua functions (one copy of each rule):
# hit: increment `key`, starting its window (`window` ms) on the first hit; returns count, ms left.
# grant: add up to `want` to `key` without passing `limit` (a window of `window` ms starts with
# the first grant); returns how many were granted (0 at the limit) and the window's ms left.
STEPS = """
local function hit(key, window)
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  return count, ttl
end
local function grant(key, limit, window, want)
  local used = tonumber(redis.call('GET', key) or '0')
  local n = math.min(tonumber(want), tonumber(limit) - used)
  if n <= 0 then
    return 0, redis.call('PTTL', key)
  end
  redis.call('INCRBY', key, n)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  return n, ttl
end
"""
# KEYS[1] window ARGV[1] ms -> {count, ms left}
HIT = STEPS + "local count, ttl = hit(KEYS[1], ARGV[1])\nreturn {count, ttl}\n"
# One round trip for a dispatch: grant a client's slots (KEYS[1]; limit ARGV[1], window ARGV[2] ms,
# want ARGV[3], 0 = none) and, unless the client is at its rate, a provider's request slots
# (KEYS[2]; max ARGV[4], window ARGV[6] ms, want ARGV[7], 0 = none) while its reported tokens
# (KEYS[3]) are under ARGV[5] and the member asking (ARGV[8], '' = none) is not past its share of
# them (set KEYS[4]). -> {client granted, client ms left, provider granted, provider ms left,
# the members past their share} (the set only when a provider was asked for)
LEASE = (
    STEPS
    + """local client, client_ttl = 0, 0
if tonumber(ARGV[3]) > 0 then
  client, client_ttl = grant(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
  if client == 0 then
    return {0, client_ttl, 0, 0}
  end
end
local provider, provider_ttl, over = 0, 0, {}
if tonumber(ARGV[7]) > 0 then
  over = redis.call('SMEMBERS', KEYS[4])
  if (ARGV[8] == '' or redis.call('SISMEMBER', KEYS[4], ARGV[8]) == 0)
      and tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[5]) then
    provider, provider_ttl = grant(KEYS[2], ARGV[4], ARGV[6], ARGV[7])
  end
end
return {client, client_ttl, provider, provider_ttl, over}
"""
)

# Add ARGV[1] to KEYS[1], starting its window (ARGV[2] ms) when it has none. Returns the total.
ADD = """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return total
"""


# A member's report to a shared budget: add ARGV[2] to what member ARGV[1] reported (hash KEYS[2])
# and charge the budget (KEYS[1]) only the part within the member's share ARGV[3]; a member at its
# share joins the set KEYS[3]. The three keys share the window (ARGV[4] ms) the first report starts.
# -> {the budget's charged total, the member's reported total}
SHARE_ADD = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('SET', KEYS[1], 0, 'PX', ARGV[4])
  ttl = tonumber(ARGV[4])
end
local share = tonumber(ARGV[3])
local after = redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
local before = after - tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
local total = redis.call('INCRBY', KEYS[1], math.min(after, share) - math.min(before, share))
if after >= share then
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return {total, after}
"""

"""The health state machine (`providers.health.machine`) in Lua: what Redis runs, so a report, a
probe or a reset reads and writes a provider's state in ONE atomic step (no read-modify-write race
between workers). Keep it step for step with the Python machine; `providers/tests/health/
test_script.py` runs both on random histories and compares them.

Every provider's state is one field (its id) of one hash (KEYS[1]), encoded as `FIELDS` joined by
commas; a missing field is a healthy provider with nothing counted. ARGV[1] the operation
(`outcome`, `probe`, `mark`, `advance`: only the time-driven step), ARGV[2] the provider's id,
ARGV[3] now (ms); `outcome`: ARGV[4] when its dispatch was made (ms), ARGV[5] 1 for a success, 0 for
a provider-side failure; `outcome` and `probe`: ARGV[6..12] the config (`HealthConfig`'s fields in order).
-> {the state after, encoded; the previous state ('' without a transition); the reason; admitted (probe)}
"""

# HealthState's fields, in the order of the encoding.
FIELDS = (
    "state",
    "since_ms",
    "until_ms",
    "cooldown_ms",
    "consecutive",
    "window_ms",
    "outcomes",
    "failures",
    "probes",
    "round_ms",
    "successes",
)

HEALTH = """
local op, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local raw = redis.call('HGET', KEYS[1], id)
local s = {state = 'healthy', since = 0, untl = 0, cooldown = 0, consecutive = 0, window = 0,
           outcomes = 0, failures = 0, probes = 0, round = 0, successes = 0}
if raw then
  local v = {}
  for part in string.gmatch(raw, '[^,]+') do v[#v + 1] = part end
  s = {state = v[1], since = tonumber(v[2]), untl = tonumber(v[3]), cooldown = tonumber(v[4]),
       consecutive = tonumber(v[5]), window = tonumber(v[6]), outcomes = tonumber(v[7]),
       failures = tonumber(v[8]), probes = tonumber(v[9]), round = tonumber(v[10]),
       successes = tonumber(v[11])}
end
local function fresh(state, since)
  return {state = state, since = since, untl = 0, cooldown = 0, consecutive = 0, window = 0,
          outcomes = 0, failures = 0, probes = 0, round = 0, successes = 0}
end
local function trip(cooldown)
  local t = fresh('cooling_down', now)
  t.untl = now + cooldown
  t.cooldown = cooldown
  return t
end
local previous, reason, admitted = '', '', 0
-- advance: a cooldown that is over becomes probing
local moved = false
if op ~= 'mark' and s.state == 'cooling_down' and now >= s.untl then
  local cooldown = s.cooldown
  s = fresh('probing', now)
  s.cooldown = cooldown
  s.round = now
  previous, reason, moved = 'cooling_down', 'cooldown_over', true
end
local probes_cfg, base = tonumber(ARGV[12] or '0'), tonumber(ARGV[10] or '0')
if op == 'outcome' and not moved and tonumber(ARGV[4]) >= s.since then
  local ok = ARGV[5] == '1'
  if s.state == 'healthy' then
    if s.outcomes == 0 or now >= s.window + tonumber(ARGV[9]) then
      s.window, s.outcomes, s.failures = now, 0, 0
    end
    s.outcomes = s.outcomes + 1
    if ok then s.consecutive = 0 else
      s.failures = s.failures + 1
      s.consecutive = s.consecutive + 1
    end
    if s.consecutive >= tonumber(ARGV[6]) then
      reason = 'consecutive_failures'
    elseif not ok and s.outcomes >= tonumber(ARGV[8]) and s.failures * 100 >= tonumber(ARGV[7]) * s.outcomes then
      reason = 'failure_rate'
    end
    if reason ~= '' then
      s = trip(base)
      previous = 'healthy'
    end
  elseif s.state == 'probing' then
    if not ok then
      local cap = math.max(tonumber(ARGV[11]), base)
      s = trip(math.min(math.max(s.cooldown, base) * 2, cap))
      previous, reason = 'probing', 'probe_failed'
    elseif s.successes + 1 >= probes_cfg then
      s = fresh('healthy', now)
      previous, reason = 'probing', 'probes_succeeded'
    else
      s.successes = s.successes + 1
    end
  end
elseif op == 'probe' then
  if s.state == 'healthy' then
    admitted = 1
  elseif s.state == 'probing' then
    if now >= s.round + math.max(s.cooldown, base) then
      s.round, s.probes = now, 0
    end
    if s.probes < probes_cfg then
      s.probes = s.probes + 1
      admitted = 1
    end
  end
elseif op == 'mark' and s.state ~= 'healthy' then
  previous, reason = s.state, 'marked_healthy'
  s = fresh('healthy', now)
end
local encoded = table.concat({s.state, string.format('%d', s.since), string.format('%d', s.untl),
  string.format('%d', s.cooldown), s.consecutive, string.format('%d', s.window), s.outcomes, s.failures,
  s.probes, string.format('%d', s.round), s.successes}, ',')
redis.call('HSET', KEYS[1], id, encoded)
return {encoded, previous, reason, admitted}
"""

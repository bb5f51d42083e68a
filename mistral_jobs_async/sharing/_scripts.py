"""The Lua scripts that make each step atomic in Redis (one round trip, no race).

Redis runs a script as one command: the check of the lease and the write it guards cannot be
split by another client. That is what makes the lease's token a fencing token: a leader that
was paused past its lease (a GC pause, a stopped container) can no longer publish, renew or
release, because the lease now holds someone else's token.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "PUBLISH", "REGISTER", "RELEASE", "RENEW"]

#: KEYS: lease, fence. ARGV: process id, ttl (ms). The new token, or nil if the lease is held.
ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""

#: KEYS: lease. ARGV: token, ttl (ms). 1 if renewed, 0 if the lease is no longer ours.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

#: KEYS: lease. ARGV: token. 1 if released, 0 if it was no longer ours.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: KEYS: lease, events, seq, state. ARGV: token, maxlen, then for each event its job id, its
#: saved job ('' for none) and the event. The number of events appended, or nil if the lease
#: is no longer ours (then nothing is written).
PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local n = 0
for i = 3, #ARGV, 3 do
  local seq = redis.call('INCR', KEYS[3])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'seq', seq, 'event', ARGV[i + 2])
  if ARGV[i + 1] ~= '' then redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
  n = n + 1
end
return n
"""

#: KEYS: members, interest. ARGV: process id, ttl (ms), job ids to add (maybe none).
#: Registers the process until now + ttl on Redis's own clock (no skew between hosts).
REGISTER = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if #ARGV > 2 then redis.call('SADD', KEYS[2], unpack(ARGV, 3)) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return now
"""

"""The workspace-wide ``chat.update`` budget, kept in Redis and shared by every replica.

Slack allows about 50 ``chat.update`` calls per minute per workspace (Tier 3). Every streaming
reply of every replica edits through one :class:`Budget`, which answers "may this stream edit now,
and if not, how long until it may". Five rules, all applied in one Lua script so that replicas
cannot interleave between reading and taking a token:

1. **Token bucket.** ``burst`` tokens at most, refilled at ``(per_minute - burst) / 60`` per
   second. Any 60-second window then holds at most ``burst + (per_minute - burst) = per_minute``
   grants: the bucket can start the window full, and the refill adds the rest. A plain refill of
   ``per_minute / 60`` would allow ``per_minute + burst`` in a window.
2. **Fair share.** Streams that asked recently are *active* (a sorted set scored by heartbeat).
   An intermediate edit of a stream waits until ``active / refill`` seconds after that stream's
   previous edit, so with ``k`` streams competing each gets ``1/k`` of the refill, and one stream
   alone may use all of it. A stream that is refused coalesces more text and asks again after
   the returned delay.
3. **Minimum interval.** No message is edited twice within ``min_interval`` seconds.
4. **Global pause.** After a 429, :meth:`Budget.block_until` stops every stream of the team on
   every replica until ``Retry-After`` has passed, and empties the bucket.
5. **A place in line.** An intermediate edit that rules 2 and 3 allow but that finds no token
   for it (or finds the team paused) takes a place in a line ordered by when it was first so
   refused, and keeps it on later asks. With ``ahead`` intermediates before it in line, it may
   take a token only when there is one for every waiting final and every one of those, so its
   wait is ``(finals + ahead + 1 - tokens) / refill``: the time its own token is due, not the
   time the next token is due. Streams refused at the same moment therefore wake one refill
   apart, each mostly finding its token, instead of all asking at once and all but one being
   refused again. Refused during a pause, it waits ``pause left + ahead / refill``. A stream
   held by its own spacing (rules 2 and 3) is not waiting for a token and leaves the line; it
   rejoins at the end when it next asks. A stream that stops asking keeps its place (and holds
   back those behind it) until ``active_window`` after the time it was told to come back, as a
   waiting final does, or until :meth:`Budget.release`.

Final edits (the exact last text of a turn) skip the fair-share rule and have priority: a waiting
final reserves a token that intermediate edits may not take, and finals are served in the order
they first asked. A final edit may wait, but it always gets a token eventually. Asking for its
final takes a stream out of the line of intermediates.

Keys (hash-tagged by team, so all of a team's keys share a Redis Cluster slot), each expiring an
hour after the last request because an idle team needs no state:
``cs:rl:{<team>}:bucket`` (tokens, refill time), ``…:streams`` (heartbeats), ``…:last`` (each
stream's last edit), ``…:finals`` (finals waiting, by arrival), ``…:pause`` (pause end),
``…:line`` (intermediates waiting for a token, by arrival).

Times come from an injectable wall clock; replicas must share a synchronised clock (NTP), and a
skew of ``s`` seconds can at worst add ``s * refill`` tokens. Needs Redis >= 6.2 (``ZADD GT``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis

__all__ = ["Budget", "BudgetPolicy"]

_STATE_TTL_MS: Final = 3_600_000

# KEYS: bucket, streams, last, finals, pause, line
# ARGV: now, refill per second, burst, min interval, active window, stream, final (1/0), ttl
# Returns the seconds to wait as a string: Lua numbers would be truncated to integers, and
# tostring() keeps only 14 digits, too few for epoch seconds; num() keeps a double's 17.
_ACQUIRE = """
local function num(x) return string.format('%.17g', x) end
local now = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local min_interval = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local stream = ARGV[6]
local final = ARGV[7] == '1'
local ttl = tonumber(ARGV[8])
-- Epoch seconds carry ~1e-7 s of float error; a gap below a microsecond counts as none,
-- or a caller adding the wait to the clock would get the same time back and spin.
local eps = 1e-6

local cutoff = '(' .. num(now - window)
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff)
for _, s in ipairs(stale) do
  redis.call('HDEL', KEYS[3], s)
  redis.call('ZREM', KEYS[4], s)
  redis.call('ZREM', KEYS[6], s)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
redis.call('ZADD', KEYS[2], 'GT', now, stream)
if final then
  redis.call('ZADD', KEYS[4], 'NX', now, stream)
  -- A stream asking for its final no longer waits for an intermediate edit.
  redis.call('ZREM', KEYS[6], stream)
end

local paused = tonumber(redis.call('GET', KEYS[5]) or '0')
local pause_left = 0
if paused > now + eps then pause_left = paused - now end

local spacing = min_interval
if not final then
  local fair = redis.call('ZCARD', KEYS[2]) / refill
  if fair > spacing then spacing = fair end
end
-- How long the stream's own spacing (fair share, minimum interval) still holds it.
local own = 0
local last = tonumber(redis.call('HGET', KEYS[3], stream) or '')
if last and last + spacing - now > eps then own = last + spacing - now end
local wait = math.max(pause_left, own)

local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * refill)
  ts = now
end

-- Finals are served in arrival order. An intermediate held only by the pause or the bucket
-- takes a place in line (kept on later asks), and may take a token only once every waiting
-- final and every intermediate ahead of it has one: its wait then ends when its own token
-- is due, so streams refused together wake one refill apart, not all at once.
-- An intermediate held by its own spacing is not waiting for a token and leaves the line.
local need, place
if final then
  need = 1 + redis.call('ZRANK', KEYS[4], stream)
elseif own > pause_left then
  redis.call('ZREM', KEYS[6], stream)
else
  redis.call('ZADD', KEYS[6], 'NX', now, stream)
  place = redis.call('ZRANK', KEYS[6], stream)
  need = 1 + redis.call('ZCARD', KEYS[4]) + place
end

if wait <= 0 then
  if tokens >= need - eps then
    tokens = math.max(0, tokens - 1)
    redis.call('HSET', KEYS[3], stream, num(now))
    redis.call('ZREM', KEYS[4], stream)
    redis.call('ZREM', KEYS[6], stream)
    wait = 0
  else
    wait = (need - tokens) / refill
  end
elseif place then
  -- Paused: the line still forms, so the wake-ups after the pause are spread out too.
  wait = wait + place / refill
end
redis.call('HSET', KEYS[1], 'tokens', num(tokens), 'ts', num(ts))
-- A stream told to wait stays active until it comes back, however long the wait.
if wait > 0 then redis.call('ZADD', KEYS[2], 'GT', now + wait, stream) end
for _, i in ipairs({1, 2, 3, 4, 6}) do redis.call('PEXPIRE', KEYS[i], ttl) end
return num(wait)
"""

# KEYS: bucket, pause.  ARGV: now, seconds, ttl
_BLOCK = """
local function num(x) return string.format('%.17g', x) end
local now = tonumber(ARGV[1])
local until_ = now + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current > until_ then until_ = current end
redis.call('SET', KEYS[2], num(until_), 'PX', math.ceil((until_ - now) * 1000) + 1000)
redis.call('HSET', KEYS[1], 'tokens', '0', 'ts', num(until_))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return num(until_)
"""


@dataclass(frozen=True)
class BudgetPolicy:
    """The numbers of a budget; see the module docstring for how they combine."""

    per_minute: int = 50
    burst: int = 3
    min_interval: float = 1.0
    active_window: float = 30.0

    def __post_init__(self) -> None:
        if self.per_minute < 2:
            raise ValueError("per_minute must be at least 2")
        if not 1 <= self.burst < self.per_minute:
            raise ValueError("burst must be at least 1 and below per_minute")
        if self.min_interval < 0 or self.active_window <= 0:
            raise ValueError("min_interval must be >= 0 and active_window > 0")

    @property
    def refill_per_second(self) -> float:
        """Tokens added per second: what is left of ``per_minute`` after the burst, spread."""
        return (self.per_minute - self.burst) / 60.0

    def max_grants(self, seconds: float) -> float:
        """The most grants any window of ``seconds`` can hold: a full bucket plus the refill."""
        return self.burst + seconds * self.refill_per_second

    def fair_spacing(self, active_streams: int) -> float:
        """Seconds between two intermediate edits of one stream while ``active_streams`` ask."""
        return max(self.min_interval, max(1, active_streams) / self.refill_per_second)


class Budget:
    """Per-workspace ``chat.update`` budget shared through Redis by every replica.

    ``clock`` returns wall-clock seconds (shared across replicas), injectable so tests drive
    time themselves.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        policy: BudgetPolicy | None = None,
        *,
        lane: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy or BudgetPolicy()
        self.lane = lane
        """Which Slack method's window this budget keeps (part of its keys); "" is
        ``chat.update``'s, whose keys predate the other lanes."""
        self._redis = redis
        self._clock = clock
        self._acquire = redis.register_script(_ACQUIRE)
        self._block = redis.register_script(_BLOCK)

    def _keys(self, team: str) -> list[str]:
        base = f"cs:rl:{{{team}}}:{self.lane + ':' if self.lane else ''}"
        return [base + name for name in ("bucket", "streams", "last", "finals", "pause", "line")]

    async def acquire(self, team: str, stream_id: str, *, final: bool = False) -> float:
        """Try to take one edit for ``stream_id``: 0.0 means edit now, else seconds to wait.

        ``stream_id`` names one reply message (or one turn's stream): the minimum interval and
        the fair share apply to it. Asking again after the returned delay is the only way to
        edit; a final edit asks with ``final=True`` until it gets 0.0.
        """
        p = self.policy
        keys = self._keys(team)
        args: list[str | int | float] = [
            repr(self._clock()),
            repr(p.refill_per_second),
            p.burst,
            repr(p.min_interval),
            repr(p.active_window),
            stream_id,
            1 if final else 0,
            _STATE_TTL_MS,
        ]
        wait = float(await self._acquire(keys=keys, args=args))
        return max(0.0, wait)

    async def release(self, team: str, stream_id: str) -> None:
        """Forget a finished stream at once, so its share goes to the others."""
        _, streams, last, finals, _, line = self._keys(team)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(streams, stream_id)
            pipe.hdel(last, stream_id)
            pipe.zrem(finals, stream_id)
            pipe.zrem(line, stream_id)
            await pipe.execute()

    async def block_until(self, team: str, retry_after: float) -> float:
        """Pause every stream of ``team`` for ``retry_after`` seconds (Slack's 429 Retry-After).

        Extends, never shortens, a pause already in force; empties the bucket so the edits
        resume at the refill rate. Returns the wall-clock time the pause ends.
        """
        bucket, _, _, _, pause, _ = self._keys(team)
        args: list[str | int] = [repr(self._clock()), repr(max(0.0, retry_after)), _STATE_TTL_MS]
        return float(await self._block(keys=[bucket, pause], args=args))

"""Every Redis key the bot uses, with its TTL and the reason for it.

All keys start with ``cs:`` so the bot can share a Redis with other tenants. The table below is
the whole inventory; nothing else in the bot writes to Redis except :mod:`bot.ratelimit`, whose
keys (``cs:rl:{<team>}:*``) are documented there because they belong to the update budget.

=========================================  ======  ==============================================
key                                        TTL     why
=========================================  ======  ==============================================
``cs:seen:event:<event_id>``               1 h     Slack retries an event up to 3 times within
                                                   minutes; an hour outlives every retry.
``cs:seen:msg:<channel>:<ts>``             1 h     ``app_mention`` and ``message`` both fire for
                                                   one post with different event ids.
``cs:thread:<team>:<channel>:<thread_ts>`` 90 d    Slack thread -> Codex thread. Refreshed on each
                                                   use, so live conversations never expire; an
                                                   abandoned thread is forgotten after a quarter.
``cs:codex:<codex_thread_id>``             90 d    Reverse index for notifications and approvals;
                                                   refreshed together with the forward key.
``cs:turn:<codex_thread_id>``              24 h    The running turn, for ``/steer`` and stop.
                                                   Cleared when the turn ends; the TTL only cleans
                                                   up after a replica that died mid-turn.
``cs:lease:<key>``                         caller  One running turn per Slack thread across
                                                   replicas; the holder renews it, so a dead
                                                   replica's lease lapses by itself.
``cs:pending:<thread_key>``                24 h    Mentions queued behind a running turn. Renewed
                                                   on every push; only a queue nobody drained for a
                                                   day (every replica down) expires.
``cs:recent:<team>:<channel>:<user>``      90 d    A user's recent Codex threads in a channel, for
                                                   ``/steer`` and ``/recap`` typed in the channel.
``cs:cursor:<short_id>``                   24 h    Recap paging cursors; an "Older" button older
                                                   than a day answers "expired" instead of paging.
``cs:approval:<approval_id>``              24 h    An approval prompt or Codex's questions, and
                                                   the answer; a click a day later is told the
                                                   request expired.
``cs:ctx:<thread_key>``                     90 d    The ts of the newest mention whose turn carried
                                                   the thread's messages to Codex: the next turn
                                                   adds only what was said since (bot.context).
``cs:asked:<codex_thread_id>:<item_id>``   24 h    The prompt last posted for one item's request:
                                                   Codex asks again after a takeover, and the old
                                                   prompt (its replica gone) must stand down.
``cs:stopped:<codex_thread_id>:<turn_id>`` 1 h     Who pressed Stop, read when the interrupted
                                                   turn writes its last line ("stopped by"). The
                                                   turn ends seconds after the interrupt; an hour
                                                   covers any lag and then cleans itself up.
``cs:job:<thread_key>``                    24 h    The reply in flight on a Slack thread (see
                                                   :class:`Job`): what a replica that takes the
                                                   thread over needs to finish it. Deleted when
                                                   the reply shows its final text; the TTL only
                                                   cleans up after every replica died for a day.
``cs:rerun:<short_id>``                     24 h    A lost turn's mention, behind its "Run again"
                                                   button; a day later the button says expired.
``cs:owned``                               none    Thread keys with a job or queued mentions: the
                                                   set every replica's takeover watcher scans.
                                                   Members leave when they have neither.
``cs:alive:<replica>``                     hb      A replica's heartbeat, renewed every third of
                                                   its TTL (``REPLICA_HEARTBEAT_SECONDS``). A lease
                                                   whose holder has no heartbeat is taken over at
                                                   once; a replica that hands over deletes it.
=========================================  ======  ==============================================

Ownership. A Slack thread's lease (``cs:lease:<thread_key>``) names the replica that runs its
turns; the job's ``owner`` field always names the same replica. Every write that a replica
makes on a job's behalf is fenced on that field, so a replica that lost the thread (its
heartbeat lapsed while it was cut off from Redis) learns so at its next write and stops,
instead of editing a reply another replica now owns.

Approval decisions are also published on the pub/sub channel :data:`APPROVAL_DECISIONS` so the
replica whose Codex connection holds the request can answer it, whichever replica got the click.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final, cast

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

__all__ = [
    "APPROVAL_DECISIONS",
    "APPROVAL_TTL",
    "CURSOR_TTL",
    "DEDUPE_TTL",
    "JOB_TTL",
    "PENDING_TTL",
    "STOPPED_TTL",
    "THREAD_TTL",
    "TURN_TTL",
    "ActiveTurn",
    "ApprovalDecision",
    "ApprovalRecord",
    "ApprovalState",
    "Job",
    "Store",
    "ThreadRecord",
    "thread_key",
]

DEDUPE_TTL: Final = 3600
THREAD_TTL: Final = 90 * 86400
TURN_TTL: Final = 86400
PENDING_TTL: Final = 86400
RECENT_TTL: Final = 90 * 86400
RECENT_KEEP: Final = 20
CURSOR_TTL: Final = 86400
APPROVAL_TTL: Final = 86400
STOPPED_TTL: Final = 3600
JOB_TTL: Final = 86400
RERUN_TTL: Final = 86400

APPROVAL_DECISIONS: Final = "cs:approvals:decided"
"""Pub/sub channel carrying one :class:`ApprovalDecision` JSON per resolved approval."""

_PREFIX: Final = "cs:"
_OWNED: Final = "cs:owned"
_ALIVE: Final = "cs:alive:"

# Compare-and-delete: only the turn that set the record may clear it, so a late
# turn/completed of turn A never wipes the record of turn B that started since.
_CLEAR_TURN = """
if redis.call('HGET', KEYS[1], 'turn_id') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# First writer wins, and the winner's decision is published in the same atomic step so
# no subscriber can see a decision that the hash does not hold.
_RESOLVE_APPROVAL = """
if redis.call('HEXISTS', KEYS[1], 'record') == 0 then
  return -1
end
if redis.call('HSETNX', KEYS[1], 'decision', ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'decided_by', ARGV[2], 'decided_at', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""


# Start the next queued mention as the thread's job, atomically, and only while this replica
# holds the thread's lease: a mention is never popped without a job that remembers it.
_START_JOB = """
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return false
end
local raw = redis.call('LPOP', KEYS[1])
if not raw then
  return false
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'mention', raw, 'owner', ARGV[1], 'created_at', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
return raw
"""

# Write job fields only while this replica owns the job (the fence described above).
_UPDATE_JOB = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
"""

_FINISH_JOB = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
return redis.call('DEL', KEYS[1])
"""

# Take a thread over when it has work (a job or queued mentions) and its lease is free or held
# by a replica with no heartbeat. Returns 0 (nothing to take), 1 (took its queue) or 2 (took
# its job too). The heartbeat key is built here from the holder's name; this bot runs on a
# single Redis (not Cluster), where a script may read keys it did not declare.
_CLAIM_THREAD = """
local has_job = redis.call('EXISTS', KEYS[2]) == 1
if not has_job and redis.call('LLEN', KEYS[1]) == 0 then
  if not redis.call('GET', KEYS[3]) then
    redis.call('SREM', KEYS[4], ARGV[3])
  end
  return 0
end
local holder = redis.call('GET', KEYS[3])
if holder then
  if holder == ARGV[1] then
    return 0
  end
  if redis.call('EXISTS', ARGV[4] .. holder) == 1 then
    return 0
  end
end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
if has_job then
  redis.call('HSET', KEYS[2], 'owner', ARGV[1])
  return 2
end
return 1
"""


def thread_key(team: str, channel: str, thread_ts: str) -> str:
    """The identity of a Slack thread, used for its lease and its queue of pending mentions."""
    return f"{team}:{channel}:{thread_ts}"


class ThreadRecord(BaseModel):
    """Which Codex thread (on which endpoint) holds a Slack thread's conversation."""

    model_config = ConfigDict(frozen=True)

    codex_thread_id: str
    endpoint_key: str
    team: str
    channel: str
    thread_ts: str
    started_by: str
    created_at: float

    @property
    def key(self) -> str:
        """This Slack thread's :func:`thread_key`."""
        return thread_key(self.team, self.channel, self.thread_ts)


class ActiveTurn(BaseModel):
    """The turn running in a Codex thread: who started it and which Slack message shows it."""

    model_config = ConfigDict(frozen=True)

    turn_id: str
    user: str
    reply_ts: str
    started_at: float


class Job(BaseModel):
    """The reply in flight on a Slack thread, as far as Slack and Codex have got with it.

    Written step by step by the replica that runs it, so another replica can finish it: the
    queued mention it answers, the Slack messages the reply owns, the Codex turn once started,
    the text the reply shows, and the final text once known but not yet shown.
    """

    model_config = ConfigDict(frozen=True)

    thread_key: str
    mention: str
    """The :class:`bot.bridge.Mention` JSON this job answers."""
    owner: str
    created_at: float
    messages: list[str] = []
    """The ``ts`` of every Slack message of the reply, first to last; empty until posted."""
    codex_thread_id: str | None = None
    endpoint_key: str | None = None
    turn_id: str | None = None
    item_id: str | None = None
    """The agent message item the reply was showing, and its text so far (``text``)."""
    text: str = ""
    final: str | None = None
    """The reply's final text, once the turn ended, until Slack has shown it."""


class ApprovalRecord(BaseModel):
    """An approval prompt posted to Slack, with what is needed to answer Codex later."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    codex_thread_id: str
    turn_id: str
    request_id: str | int
    endpoint_key: str
    method: str
    channel: str
    thread_ts: str
    message_ts: str
    started_by: str
    available_decisions: list[Any]
    created_at: float


class ApprovalDecision(BaseModel):
    """An answer to an approval; ``decision`` is the JSON text of Codex's decision value."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    decision: str
    user: str
    decided_at: float


class ApprovalState(BaseModel):
    """An approval as stored: the prompt, and its decision once someone answered."""

    model_config = ConfigDict(frozen=True)

    record: ApprovalRecord
    decision: ApprovalDecision | None


def _text(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.decode()


class Store:
    """Async access to the bot's Redis state; safe to share between tasks and replicas.

    Works with clients created with or without ``decode_responses``. ``clock`` gives wall-clock
    seconds and only feeds timestamps that are stored (``created_at``, recency scores).
    """

    def __init__(self, redis: aioredis.Redis, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock
        self._clear_turn = redis.register_script(_CLEAR_TURN)
        self._renew_lease = redis.register_script(_RENEW_LEASE)
        self._release_lease = redis.register_script(_RELEASE_LEASE)
        self._resolve_approval = redis.register_script(_RESOLVE_APPROVAL)
        self._start_job = redis.register_script(_START_JOB)
        self._update_job = redis.register_script(_UPDATE_JOB)
        self._finish_job = redis.register_script(_FINISH_JOB)
        self._claim_thread = redis.register_script(_CLAIM_THREAD)

    # -- dedupe -----------------------------------------------------------------------------

    async def claim_event(self, event_id: str) -> bool:
        """True the first time an ``event_id`` is seen within :data:`DEDUPE_TTL`, else False."""
        return bool(
            await self._redis.set(f"{_PREFIX}seen:event:{event_id}", 1, nx=True, ex=DEDUPE_TTL)
        )

    async def claim_message(self, channel: str, ts: str) -> bool:
        """True the first time a message (channel, ts) is seen within :data:`DEDUPE_TTL`."""
        key = f"{_PREFIX}seen:msg:{channel}:{ts}"
        return bool(await self._redis.set(key, 1, nx=True, ex=DEDUPE_TTL))

    # -- Slack thread <-> Codex thread ------------------------------------------------------

    @staticmethod
    def _thread_key(team: str, channel: str, thread_ts: str) -> str:
        return f"{_PREFIX}thread:{thread_key(team, channel, thread_ts)}"

    async def get_thread(self, team: str, channel: str, thread_ts: str) -> ThreadRecord | None:
        """The Codex thread mapped to a Slack thread, refreshing both keys' TTL; None if unknown."""
        key = self._thread_key(team, channel, thread_ts)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.expire(key, THREAD_TTL)
            raw, _ = await pipe.execute()
        if raw is None:
            return None
        record = ThreadRecord.model_validate_json(raw)
        await self._redis.expire(f"{_PREFIX}codex:{record.codex_thread_id}", THREAD_TTL)
        return record

    async def thread_for_codex(self, codex_thread_id: str) -> ThreadRecord | None:
        """The Slack thread that a Codex thread belongs to, or None if unknown."""
        key = _text(await self._redis.get(f"{_PREFIX}codex:{codex_thread_id}"))
        if key is None:
            return None
        raw = await self._redis.get(f"{_PREFIX}thread:{key}")
        return None if raw is None else ThreadRecord.model_validate_json(raw)

    async def claim_thread(self, record: ThreadRecord) -> ThreadRecord:
        """Save ``record`` unless the Slack thread is already mapped; return the mapping in force.

        Two replicas racing to create a thread both call this; the loser gets the winner's record
        and should use that Codex thread instead of its own.
        """
        if await self._write_thread(record, only_if_absent=True):
            return record
        existing = await self.get_thread(record.team, record.channel, record.thread_ts)
        # The winner's key can only vanish here if someone deleted it by hand in between.
        return existing if existing is not None else record

    async def _write_thread(self, record: ThreadRecord, *, only_if_absent: bool) -> bool:
        key = self._thread_key(record.team, record.channel, record.thread_ts)
        if not await self._redis.set(
            key, record.model_dump_json(), ex=THREAD_TTL, nx=only_if_absent
        ):
            return False
        await self._redis.set(f"{_PREFIX}codex:{record.codex_thread_id}", record.key, ex=THREAD_TTL)
        return True

    # -- the running turn -------------------------------------------------------------------

    async def set_active_turn(
        self, codex_thread_id: str, turn_id: str, user: str, reply_ts: str
    ) -> None:
        """Record the turn now running in a Codex thread, replacing any earlier one."""
        key = f"{_PREFIX}turn:{codex_thread_id}"
        fields: dict[Any, Any] = {  # redis-py 7 and 8 type the mapping differently
            "turn_id": turn_id,
            "user": user,
            "reply_ts": reply_ts,
            "started_at": repr(self._clock()),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=fields)
            pipe.expire(key, TURN_TTL)
            await pipe.execute()

    async def get_active_turn(self, codex_thread_id: str) -> ActiveTurn | None:
        """The turn running in a Codex thread, or None."""
        raw = await cast(Any, self._redis.hgetall(f"{_PREFIX}turn:{codex_thread_id}"))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return ActiveTurn.model_validate(fields)

    async def clear_active_turn(self, codex_thread_id: str, turn_id: str) -> bool:
        """Forget the running turn if it is still ``turn_id``; True if it was cleared."""
        cleared = await self._clear_turn(keys=[f"{_PREFIX}turn:{codex_thread_id}"], args=[turn_id])
        return bool(cleared)

    async def set_stopper(self, codex_thread_id: str, turn_id: str, user: str) -> None:
        """Note that ``user`` stopped the turn (the first to press Stop is the one named)."""
        key = f"{_PREFIX}stopped:{codex_thread_id}:{turn_id}"
        await self._redis.set(key, user, nx=True, ex=STOPPED_TTL)

    async def stopped_by(self, codex_thread_id: str, turn_id: str) -> str | None:
        """Who stopped the turn, or None if nobody did through the bot."""
        return _text(await self._redis.get(f"{_PREFIX}stopped:{codex_thread_id}:{turn_id}"))

    # -- leases -----------------------------------------------------------------------------

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        """Take the lease ``key`` for ``ttl`` seconds if nobody holds it; True on success."""
        return bool(await self._redis.set(f"{_PREFIX}lease:{key}", owner, nx=True, px=_ms(ttl)))

    async def renew_lease(self, key: str, owner: str, ttl: float) -> bool:
        """Extend the lease to ``ttl`` seconds from now if ``owner`` still holds it."""
        args: list[str | int] = [owner, _ms(ttl)]
        return bool(await self._renew_lease(keys=[f"{_PREFIX}lease:{key}"], args=args))

    async def release_lease(self, key: str, owner: str) -> bool:
        """Give the lease up if ``owner`` still holds it; True if it was released."""
        return bool(await self._release_lease(keys=[f"{_PREFIX}lease:{key}"], args=[owner]))

    async def lease_owner(self, key: str) -> str | None:
        """Who holds the lease ``key`` now, or None."""
        return _text(await self._redis.get(f"{_PREFIX}lease:{key}"))

    # -- mentions queued behind a running turn ----------------------------------------------

    async def enqueue_pending(self, thread_key: str, item_json: str) -> int:
        """Append a mention to the thread's queue; returns the queue's new length."""
        key = f"{_PREFIX}pending:{thread_key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, item_json)
            pipe.expire(key, PENDING_TTL)
            pipe.sadd(_OWNED, thread_key)
            length, _, _ = await pipe.execute()
        return int(length)

    async def pending_count(self, thread_key: str) -> int:
        """How many mentions wait behind the thread's running turn."""
        return int(await cast(Any, self._redis.llen(f"{_PREFIX}pending:{thread_key}")))

    # -- jobs: the reply in flight, and who runs it --------------------------------------------

    async def start_job(self, thread_key: str, owner: str) -> Job | None:
        """Pop the thread's next queued mention into a new job owned by ``owner``.

        None when the queue is empty or ``owner`` no longer holds the thread's lease.
        """
        now = self._clock()
        raw = await self._start_job(
            keys=_ownership_keys(thread_key), args=[owner, repr(now), JOB_TTL, thread_key]
        )
        if raw is None:
            return None
        return Job(
            thread_key=thread_key, mention=cast(str, _text(raw)), owner=owner, created_at=now
        )

    async def get_job(self, thread_key: str) -> Job | None:
        """The thread's job, or None."""
        raw = await cast(Any, self._redis.hgetall(f"{_PREFIX}job:{thread_key}"))
        if not raw:
            return None
        fields: dict[str, Any] = {str(_text(k)): _text(v) for k, v in raw.items()}
        fields["messages"] = json.loads(fields.get("messages") or "[]")
        return Job.model_validate({**fields, "thread_key": thread_key})

    async def update_job(self, thread_key: str, owner: str, **fields: str | list[str]) -> bool:
        """Write job fields if ``owner`` still owns the job; False if it does not (any more)."""
        args: list[str] = [owner]
        for name, value in fields.items():
            args += [name, value if isinstance(value, str) else json.dumps(value)]
        return bool(await self._update_job(keys=[f"{_PREFIX}job:{thread_key}"], args=args))

    async def finish_job(self, thread_key: str, owner: str) -> bool:
        """Delete the job if ``owner`` owns it; True if it did."""
        return bool(await self._finish_job(keys=[f"{_PREFIX}job:{thread_key}"], args=[owner]))

    async def heartbeat(self, owner: str, ttl: float) -> None:
        """Say that replica ``owner`` is alive for the next ``ttl`` seconds."""
        await self._redis.set(f"{_ALIVE}{owner}", 1, px=_ms(ttl))

    async def is_alive(self, owner: str) -> bool:
        """Whether replica ``owner``'s heartbeat is current."""
        return bool(await self._redis.exists(f"{_ALIVE}{owner}"))

    async def retire(self, owner: str) -> None:
        """Delete ``owner``'s heartbeat: every thread it still holds is taken over at once."""
        await self._redis.delete(f"{_ALIVE}{owner}")

    async def claim_orphans(self, owner: str, lease_ttl: float) -> list[tuple[str, bool]]:
        """Take over every thread with work whose lease holder is gone (or that nobody holds).

        Returns ``(thread_key, has_job)`` for each thread ``owner`` now holds the lease of.
        Exactly one replica wins each thread: the check and the take are one script.
        """
        members = sorted(cast(str, _text(m)) for m in await cast(Any, self._redis.smembers(_OWNED)))
        if not members:
            return []
        # One round trip for all of them (each script still runs atomically on its own):
        # every replica asks this every few seconds, for every thread in flight.
        async with self._redis.pipeline(transaction=False) as pipe:
            for member in members:
                await self._claim_thread(
                    keys=_ownership_keys(member),
                    args=[owner, _ms(lease_ttl), member, _ALIVE],
                    client=pipe,
                )
            outcomes = await pipe.execute()
        return [
            (member, int(outcome) == 2)
            for member, outcome in zip(members, outcomes, strict=True)
            if int(outcome)
        ]

    async def context_mark(self, thread_key: str) -> str | None:
        """The ts of the newest mention whose turn carried the thread to Codex, if any."""
        return _text(await self._redis.get(f"{_PREFIX}ctx:{thread_key}"))

    async def set_context_mark(self, thread_key: str, mention_ts: str) -> None:
        """Note that the thread's messages up to ``mention_ts`` reached Codex."""
        await self._redis.set(f"{_PREFIX}ctx:{thread_key}", mention_ts, ex=THREAD_TTL)

    async def save_rerun(self, mention_json: str) -> str:
        """Keep a lost turn's mention for a day; returns the short id for its button."""
        short_id = secrets.token_urlsafe(9)
        await self._redis.set(f"{_PREFIX}rerun:{short_id}", mention_json, ex=RERUN_TTL)
        return short_id

    async def load_rerun(self, short_id: str) -> str | None:
        """The mention saved under ``short_id``, or None once expired."""
        return _text(await self._redis.get(f"{_PREFIX}rerun:{short_id}"))

    # -- a user's recent threads in a channel -----------------------------------------------

    async def remember_user_thread(
        self, team: str, channel: str, user: str, thread_ts: str
    ) -> None:
        """Note that ``user`` just used the thread ``thread_ts``; keeps the newest 20."""
        key = f"{_PREFIX}recent:{team}:{channel}:{user}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {thread_ts: self._clock()})
            pipe.zremrangebyrank(key, 0, -RECENT_KEEP - 1)
            pipe.expire(key, RECENT_TTL)
            await pipe.execute()

    async def recent_user_threads(
        self, team: str, channel: str, user: str, limit: int = RECENT_KEEP
    ) -> list[str]:
        """The ``thread_ts`` of the user's Codex threads in the channel, latest used first."""
        key = f"{_PREFIX}recent:{team}:{channel}:{user}"
        raw: list[Any] = await cast(Any, self._redis.zrevrange(key, 0, limit - 1))
        return [cast(str, _text(member)) for member in raw]

    # -- recap cursors ----------------------------------------------------------------------

    async def save_cursor(self, payload: Mapping[str, Any]) -> str:
        """Keep a paging cursor (any JSON object) for a day; returns the short id for buttons."""
        short_id = secrets.token_urlsafe(9)
        await self._redis.set(f"{_PREFIX}cursor:{short_id}", json.dumps(payload), ex=CURSOR_TTL)
        return short_id

    async def load_cursor(self, short_id: str) -> dict[str, Any] | None:
        """The payload saved under ``short_id``, or None if it expired or never existed."""
        raw = await self._redis.get(f"{_PREFIX}cursor:{short_id}")
        if raw is None:
            return None
        payload: dict[str, Any] = json.loads(raw)
        return payload

    # -- approvals --------------------------------------------------------------------------

    async def save_approval(self, record: ApprovalRecord) -> None:
        """Store an approval prompt, unanswered, for :data:`APPROVAL_TTL`."""
        key = f"{_PREFIX}approval:{record.approval_id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "record", record.model_dump_json())
            pipe.expire(key, APPROVAL_TTL)
            await pipe.execute()

    async def replace_prompt(
        self, codex_thread_id: str, item_id: str, approval_id: str
    ) -> str | None:
        """Note ``approval_id`` as the prompt of item ``item_id``'s request; returns the one
        posted before for the same item (a request Codex sent again), if any."""
        key = f"{_PREFIX}asked:{codex_thread_id}:{item_id}"
        # GET then SET in one MULTI (SET's own GET option is parsed differently by redis-py
        # 7 and 8: a bool in one, the old value in the other).
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.set(key, approval_id, ex=APPROVAL_TTL)
            previous, _ = await pipe.execute()
        return _text(previous)

    async def resolve_approval(self, approval_id: str, decision: str, user: str) -> bool:
        """Record ``user``'s decision if nobody answered first; True if this call won.

        The winner's :class:`ApprovalDecision` is published on :data:`APPROVAL_DECISIONS`. An
        unknown or expired approval is never resolved. To mark a request that Codex dropped,
        resolve it with the decision ``"expired"`` and an empty user.
        """
        decided = ApprovalDecision(
            approval_id=approval_id, decision=decision, user=user, decided_at=self._clock()
        )
        args = [
            decision,
            user,
            repr(decided.decided_at),
            APPROVAL_DECISIONS,
            decided.model_dump_json(),
        ]
        outcome = await self._resolve_approval(keys=[f"{_PREFIX}approval:{approval_id}"], args=args)
        return int(outcome) == 1

    async def get_approval(self, approval_id: str) -> ApprovalState | None:
        """The approval and its decision if any; None once it expired or if it never existed."""
        raw = await cast(Any, self._redis.hgetall(f"{_PREFIX}approval:{approval_id}"))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "record" not in fields:
            return None
        record = ApprovalRecord.model_validate_json(cast(str, fields["record"]))
        decision = None
        if fields.get("decision") is not None:
            decision = ApprovalDecision(
                approval_id=approval_id,
                decision=cast(str, fields["decision"]),
                user=fields.get("decided_by") or "",
                decided_at=float(fields.get("decided_at") or 0.0),
            )
        return ApprovalState(record=record, decision=decision)

    @staticmethod
    def parse_decision(message_data: bytes | str) -> ApprovalDecision:
        """Decode one message received on :data:`APPROVAL_DECISIONS`."""
        return ApprovalDecision.model_validate_json(message_data)

    @contextlib.asynccontextmanager
    async def approval_decisions(self) -> AsyncIterator[AsyncIterator[ApprovalDecision]]:
        """Subscribe to :data:`APPROVAL_DECISIONS`; yields the decisions as they are published.

        The subscription is in place when the block is entered, so a caller that then reads
        :meth:`get_approval` misses nothing. Redis errors propagate from the iteration; the
        subscription's connection is released on exit.
        """
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(APPROVAL_DECISIONS)
            yield self._decisions(pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    async def _decisions(self, pubsub: Any) -> AsyncIterator[ApprovalDecision]:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                yield self.parse_decision(message["data"])


def _ownership_keys(thread_key: str) -> list[str]:
    """KEYS of the job scripts, in the order they name them: pending, job, lease, owned set."""
    return [
        f"{_PREFIX}pending:{thread_key}",
        f"{_PREFIX}job:{thread_key}",
        f"{_PREFIX}lease:{thread_key}",
        _OWNED,
    ]


def _ms(seconds: float) -> int:
    # Redis wants whole milliseconds, and at least one: PX 0 is an error.
    return max(1, round(seconds * 1000))

"""bot.store against a real Redis."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from bot.store import (
    APPROVAL_DECISIONS,
    APPROVAL_TTL,
    CURSOR_TTL,
    DEDUPE_TTL,
    THREAD_TTL,
    ApprovalRecord,
    Store,
    ThreadRecord,
    thread_key,
)


class FakeClock:
    """A settable wall clock."""

    def __init__(self, now: float = 1_732_540_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(redis_client: aioredis.Redis, clock: FakeClock) -> Store:
    return Store(redis_client, clock=clock)


def _record(codex_id: str = "th-1", thread_ts: str = "1732540000.000100") -> ThreadRecord:
    return ThreadRecord(
        codex_thread_id=codex_id,
        endpoint_key="ws://codex-0",
        team="T1",
        channel="C1",
        thread_ts=thread_ts,
        started_by="U1",
        created_at=1_732_540_000.0,
    )


def _approval(approval_id: str = "ap1") -> ApprovalRecord:
    return ApprovalRecord(
        approval_id=approval_id,
        codex_thread_id="th-1",
        turn_id="turn-1",
        request_id=0,
        endpoint_key="ws://codex-0",
        method="item/commandExecution/requestApproval",
        channel="C1",
        thread_ts="1.000100",
        message_ts="1.000200",
        started_by="U1",
        available_decisions=["accept", "decline"],
        created_at=1.0,
    )


async def test_claim_event_is_true_once_and_expires_within_an_hour(
    store: Store, redis_client: aioredis.Redis
) -> None:
    """An event id is claimed once; the dedupe key lives for DEDUPE_TTL."""
    assert await store.claim_event("Ev1")
    assert not await store.claim_event("Ev1")
    assert 0 < await redis_client.ttl("cs:seen:event:Ev1") <= DEDUPE_TTL


async def test_claim_message_dedupes_on_channel_and_ts(store: Store) -> None:
    """The same channel+ts is claimed once; another channel with the same ts is separate."""
    assert await store.claim_message("C1", "1.000100")
    assert not await store.claim_message("C1", "1.000100")
    assert await store.claim_message("C2", "1.000100")


async def test_thread_mapping_round_trips_and_has_reverse_index(
    store: Store, redis_client: aioredis.Redis
) -> None:
    """A saved mapping is found by Slack thread and by Codex thread id, with a 90-day TTL."""
    assert await store.get_thread("T1", "C1", "1732540000.000100") is None
    record = _record()
    await store.claim_thread(record)
    assert await store.get_thread("T1", "C1", "1732540000.000100") == record
    assert await store.thread_for_codex("th-1") == record
    assert await redis_client.ttl(f"cs:thread:{record.key}") > THREAD_TTL - 10
    assert await redis_client.ttl("cs:codex:th-1") > THREAD_TTL - 10


async def test_get_thread_refreshes_the_ttl(store: Store, redis_client: aioredis.Redis) -> None:
    """Reading a mapping pushes its expiry back to the full 90 days."""
    record = _record()
    await store.claim_thread(record)
    await redis_client.expire(f"cs:thread:{record.key}", 100)
    await redis_client.expire("cs:codex:th-1", 100)
    await store.get_thread("T1", "C1", record.thread_ts)
    assert await redis_client.ttl(f"cs:thread:{record.key}") > THREAD_TTL - 10
    assert await redis_client.ttl("cs:codex:th-1") > THREAD_TTL - 10


async def test_claim_thread_keeps_the_first_writer(store: Store) -> None:
    """Of two replicas creating a thread, both end up with the first one's Codex thread."""
    first, second = _record("th-a"), _record("th-b")
    assert await store.claim_thread(first) == first
    assert await store.claim_thread(second) == first
    assert await store.thread_for_codex("th-b") is None


async def test_active_turn_is_cleared_only_by_its_own_turn(store: Store, clock: FakeClock) -> None:
    """clear_active_turn with a stale turn id leaves the newer turn in place."""
    await store.set_active_turn("th-1", "turn-a", "U1", "1.000200")
    await store.set_active_turn("th-1", "turn-b", "U2", "1.000300")
    turn = await store.get_active_turn("th-1")
    assert turn is not None
    assert (turn.turn_id, turn.user, turn.reply_ts, turn.started_at) == (
        "turn-b",
        "U2",
        "1.000300",
        clock.now,
    )
    assert not await store.clear_active_turn("th-1", "turn-a")
    assert await store.get_active_turn("th-1") is not None
    assert await store.clear_active_turn("th-1", "turn-b")
    assert await store.get_active_turn("th-1") is None


async def test_lease_is_exclusive_and_owner_checked(store: Store) -> None:
    """Only the holder renews or releases a lease; after release another owner takes it."""
    key = thread_key("T1", "C1", "1.000100")
    assert await store.acquire_lease(key, "replica-a", 30)
    assert not await store.acquire_lease(key, "replica-b", 30)
    assert not await store.renew_lease(key, "replica-b", 30)
    assert not await store.release_lease(key, "replica-b")
    assert await store.renew_lease(key, "replica-a", 30)
    assert await store.lease_owner(key) == "replica-a"
    assert await store.release_lease(key, "replica-a")
    assert await store.acquire_lease(key, "replica-b", 30)


async def test_lease_carries_the_requested_ttl(store: Store, redis_client: aioredis.Redis) -> None:
    """A lease expires by itself after its TTL, and a renewal resets that TTL."""
    assert await store.acquire_lease("k", "a", 5)
    assert 4000 < await redis_client.pttl("cs:lease:k") <= 5000
    assert await store.renew_lease("k", "a", 60)
    assert 59000 < await redis_client.pttl("cs:lease:k") <= 60000


async def test_pending_queue_is_fifo(store: Store) -> None:
    """Queued mentions come out in arrival order, then the queue is empty."""
    key = thread_key("T1", "C1", "1.000100")
    assert await store.enqueue_pending(key, '{"n": 1}') == 1
    assert await store.enqueue_pending(key, '{"n": 2}') == 2
    assert await store.pending_count(key) == 2
    assert await store.acquire_lease(key, "replica-a", 60)
    jobs = []
    for _ in range(3):
        job = await store.start_job(key, "replica-a")
        jobs.append(job.mention if job is not None else None)
        if job is not None:
            assert await store.finish_job(key, "replica-a")
    assert jobs == ['{"n": 1}', '{"n": 2}', None]


async def test_recent_user_threads_newest_first_and_capped(store: Store, clock: FakeClock) -> None:
    """A user's threads come back most recently used first, at most 20, per channel."""
    for i in range(25):
        clock.now += 1
        await store.remember_user_thread("T1", "C1", "U1", f"{i}.000100")
    clock.now += 1
    await store.remember_user_thread("T1", "C1", "U1", "3.000100")
    recent = await store.recent_user_threads("T1", "C1", "U1")
    assert len(recent) == 20
    assert recent[:3] == ["3.000100", "24.000100", "23.000100"]
    assert await store.recent_user_threads("T1", "C2", "U1") == []


async def test_cursor_round_trips_under_a_short_id(
    store: Store, redis_client: aioredis.Redis
) -> None:
    """A cursor is stored for a day under an id short enough for a button value."""
    payload = {"thread": "th-1", "cursor": '{"rolloutOrdinal": 23}'}
    short_id = await store.save_cursor(payload)
    assert len(short_id) <= 16
    assert await store.load_cursor(short_id) == payload
    assert 0 < await redis_client.ttl(f"cs:cursor:{short_id}") <= CURSOR_TTL
    assert await store.load_cursor("missing") is None


async def test_resolve_approval_first_writer_wins(
    store: Store, redis_client: aioredis.Redis
) -> None:
    """Of concurrent answers exactly one wins, and the stored decision is the winner's."""
    await store.save_approval(_approval())
    assert 0 < await redis_client.ttl("cs:approval:ap1") <= APPROVAL_TTL
    results = await asyncio.gather(
        *(store.resolve_approval("ap1", '"accept"', f"U{i}") for i in range(10))
    )
    assert results.count(True) == 1
    state = await store.get_approval("ap1")
    assert state is not None
    assert state.decision is not None
    assert state.decision.user == f"U{results.index(True)}"
    assert state.record == _approval()


async def test_resolve_unknown_approval_is_refused(store: Store) -> None:
    """An approval that expired or never existed cannot be resolved."""
    assert not await store.resolve_approval("nope", '"accept"', "U1")
    assert await store.get_approval("nope") is None


async def test_resolution_is_published_for_other_replicas(
    store: Store, redis_client: aioredis.Redis
) -> None:
    """The winning decision is published on the approvals channel; losers publish nothing."""
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(APPROVAL_DECISIONS)
    try:
        await store.save_approval(_approval())
        assert await store.resolve_approval("ap1", '"decline"', "U9")
        assert not await store.resolve_approval("ap1", '"accept"', "U8")
        messages: list[dict[str, Any]] = []
        while len(messages) < 2:
            message = await pubsub.get_message(timeout=5)
            assert message is not None, "no decision was published"
            messages.append(message)
        assert messages[0]["type"] == "subscribe"
        decision = Store.parse_decision(messages[1]["data"])
        assert (decision.approval_id, decision.decision, decision.user) == (
            "ap1",
            '"decline"',
            "U9",
        )
        assert await pubsub.get_message(timeout=0.05) is None
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


async def test_store_works_with_decoded_responses(redis_url: str) -> None:
    """A client created with decode_responses=True reads the same values."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        store = Store(client)
        await store.claim_thread(_record())
        assert await store.thread_for_codex("th-1") == _record()
        await store.enqueue_pending("k", "x")
        assert await store.acquire_lease("k", "replica-a", 60)
        job = await store.start_job("k", "replica-a")
        assert job is not None
        assert job.mention == "x"
        assert await store.get_job("k") == job
        await store.set_active_turn("th-1", "t", "U1", "1.1")
        assert (await store.get_active_turn("th-1")) is not None
    finally:
        await client.aclose()


# -- jobs, heartbeats and takeover ------------------------------------------------------------

KEY = thread_key("T1", "C1", "1732540000.000100")


async def test_start_job_pops_the_queue_only_for_the_lease_holder(store: Store) -> None:
    """A mention leaves the queue only into a job, and only for the replica holding the lease."""
    await store.enqueue_pending(KEY, '{"m": 1}')
    assert await store.start_job(KEY, "replica-a") is None  # holds no lease
    assert await store.pending_count(KEY) == 1

    assert await store.acquire_lease(KEY, "replica-a", 60)
    job = await store.start_job(KEY, "replica-a")
    assert job is not None
    assert (job.mention, job.owner, job.messages) == ('{"m": 1}', "replica-a", [])
    assert await store.pending_count(KEY) == 0
    assert await store.get_job(KEY) == job
    assert await store.start_job(KEY, "replica-a") is None  # queue empty


async def test_job_writes_are_fenced_on_the_owner(store: Store) -> None:
    """Only the owner may update or finish a job; the fields round-trip."""
    await store.enqueue_pending(KEY, "{}")
    await store.acquire_lease(KEY, "replica-a", 60)
    await store.start_job(KEY, "replica-a")

    assert await store.update_job(KEY, "replica-a", messages=["1.0001", "1.0002"], turn_id="t1")
    assert not await store.update_job(KEY, "replica-b", final="not mine")
    assert not await store.finish_job(KEY, "replica-b")
    job = await store.get_job(KEY)
    assert job is not None
    assert (job.messages, job.turn_id, job.final) == (["1.0001", "1.0002"], "t1", None)

    assert await store.finish_job(KEY, "replica-a")
    assert await store.get_job(KEY) is None


async def test_a_thread_of_a_dead_replica_is_claimed_by_exactly_one_other(store: Store) -> None:
    """No heartbeat, no hold: the first replica to look takes the lease and the job."""
    await store.heartbeat("replica-a", 60)
    await store.enqueue_pending(KEY, "{}")
    await store.acquire_lease(KEY, "replica-a", 60)
    await store.start_job(KEY, "replica-a")

    await store.heartbeat("replica-b", 60)
    await store.heartbeat("replica-c", 60)
    assert await store.claim_orphans("replica-b", 60) == []  # replica-a is alive
    await store.retire("replica-a")
    results = await asyncio.gather(
        store.claim_orphans("replica-b", 60), store.claim_orphans("replica-c", 60)
    )
    assert sorted(len(r) for r in results) == [0, 1]
    winner = "replica-b" if results[0] else "replica-c"
    assert [(KEY, True)] in results
    job = await store.get_job(KEY)
    assert job is not None
    assert job.owner == winner
    assert await store.lease_owner(KEY) == winner
    assert not await store.update_job(KEY, "replica-a", text="late write")


async def test_a_queue_nobody_holds_is_claimed_and_an_empty_thread_leaves_the_set(
    store: Store, redis_client: aioredis.Redis
) -> None:
    """Queued mentions with no lease holder are claimed (no job); done threads are dropped."""
    await store.enqueue_pending(KEY, "{}")
    assert await store.claim_orphans("replica-b", 60) == [(KEY, False)]
    assert await store.lease_owner(KEY) == "replica-b"

    assert await store.start_job(KEY, "replica-b") is not None
    assert await store.finish_job(KEY, "replica-b")
    await store.release_lease(KEY, "replica-b")
    assert await store.claim_orphans("replica-c", 60) == []
    assert await cast(Any, redis_client.smembers("cs:owned")) == set()


async def test_heartbeat_expires_with_its_ttl(store: Store, redis_client: aioredis.Redis) -> None:
    """A heartbeat lives for its TTL, and retiring deletes it at once."""
    await store.heartbeat("replica-a", 5)
    assert await store.is_alive("replica-a")
    assert 4000 < await redis_client.pttl("cs:alive:replica-a") <= 5000
    await store.retire("replica-a")
    assert not await store.is_alive("replica-a")

"""bot.ratelimit.Budget on a real Redis, with a simulated clock shared by two replicas."""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.ratelimit import Budget, BudgetPolicy

T0 = 1_732_540_000.0


class SimClock:
    """Simulated wall clock; tests move it explicitly."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


def _replicas(client: aioredis.Redis, clock: SimClock, n: int = 2) -> list[Budget]:
    return [Budget(client, BudgetPolicy(), clock=clock, sleep=clock.sleep) for _ in range(n)]


def _max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0
    )


async def _simulate(
    budgets: list[Budget], clock: SimClock, streams: int, seconds: float
) -> dict[str, list[float]]:
    """Every stream always has text to show and asks again as soon as it is told it may."""
    next_try = {f"s{i}": T0 for i in range(streams)}
    grants: dict[str, list[float]] = defaultdict(list)
    turn = 0
    while turn < 20_000:  # a bound, so a budget that never grants fails instead of hanging
        stream = min(next_try, key=lambda s: next_try[s])
        clock.now = next_try[stream]
        if clock.now >= T0 + seconds:
            return grants
        budget = budgets[turn % len(budgets)]
        turn += 1
        wait = await budget.acquire("T1", stream)
        if wait == 0:
            grants[stream].append(clock.now)
            next_try[stream] = clock.now + 0.01
        else:
            next_try[stream] = clock.now + wait
    raise AssertionError("the simulation did not reach its end")


async def test_two_replicas_never_exceed_the_budget_in_any_minute(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """Twelve eager streams over two replicas get at most 50 edits in any 60 s, shared fairly."""
    grants = await _simulate(_replicas(redis_client, clock), clock, streams=12, seconds=240)
    everything = [t for times in grants.values() for t in times]
    assert _max_in_window(everything, 60) <= 50
    assert len(everything) >= 47 * 4 - 12  # the refill is used, not wasted
    counts = [len(times) for times in grants.values()]
    assert len(counts) == 12
    assert max(counts) - min(counts) <= 2


async def test_a_lone_stream_respects_the_minimum_interval(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """With the budget to itself a stream still waits min_interval between two edits."""
    policy = BudgetPolicy(per_minute=600, burst=10, min_interval=1.0)
    budget = Budget(redis_client, policy, clock=clock, sleep=clock.sleep)
    grants = await _simulate([budget], clock, streams=1, seconds=30)
    times = grants["s0"]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0
    assert len(times) >= 29


async def test_final_edits_go_first_and_in_arrival_order(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """Waiting finals take tokens before intermediates, oldest final first."""
    budget, other = _replicas(redis_client, clock)
    for i in range(3):  # empty the bucket
        assert await budget.acquire("T1", f"warm{i}") == 0
    assert await budget.acquire("T1", "f1", final=True) > 0
    assert await other.acquire("T1", "f2", final=True) > 0
    clock.now += 60 / 47  # one token
    assert await budget.acquire("T1", "busy") > 0
    assert await other.acquire("T1", "f2", final=True) > 0
    assert await budget.acquire("T1", "f1", final=True) == 0
    clock.now += 60 / 47
    assert await budget.acquire("T1", "busy") > 0
    assert await other.acquire("T1", "f2", final=True) == 0
    clock.now += 60 / 47
    assert await budget.acquire("T1", "busy") == 0


async def test_wait_turn_returns_once_the_final_is_granted(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """wait_turn sleeps (on the injected sleep) until the token is taken, never giving up."""
    budget = Budget(redis_client, clock=clock, sleep=clock.sleep)
    await budget.block_until("T1", 30)
    await budget.wait_turn("T1", "s1", final=True)
    assert clock.now >= T0 + 30
    assert await budget.acquire("T1", "s1", final=True) > 0  # min interval since that edit


async def test_a_429_pauses_every_replica_and_empties_the_bucket(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """After block_until both replicas wait out Retry-After, then resume at the refill rate."""
    first, second = _replicas(redis_client, clock)
    end = await first.block_until("T1", 5)
    assert end == pytest.approx(T0 + 5)
    assert await second.block_until("T1", 1) == pytest.approx(T0 + 5)  # never shortened
    assert await second.acquire("T1", "a", final=True) == pytest.approx(5)
    assert await first.acquire("T1", "b") == pytest.approx(5)
    clock.now += 5
    assert await second.acquire("T1", "a", final=True) == pytest.approx(60 / 47)
    clock.now += 60 / 47
    assert await second.acquire("T1", "a", final=True) == 0


async def test_teams_have_separate_budgets(redis_client: aioredis.Redis, clock: SimClock) -> None:
    """Emptying one workspace's bucket leaves another's untouched."""
    budget = Budget(redis_client, clock=clock)
    await budget.block_until("T1", 10)
    assert await budget.acquire("T2", "s") == 0


async def test_release_frees_the_share_and_snapshot_reports_it(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """A released stream no longer counts as active; the snapshot shows tokens and pause."""
    budget = Budget(redis_client, clock=clock)
    assert await budget.acquire("T1", "a") == 0
    assert await budget.acquire("T1", "b") == 0
    snap = await budget.snapshot("T1")
    assert (snap.active_streams, snap.waiting_finals, snap.paused_for) == (2, 0, 0.0)
    assert snap.tokens == pytest.approx(1)
    await budget.release("T1", "a")
    clock.now += 60 / 47
    snap = await budget.snapshot("T1")
    assert snap.active_streams == 1
    assert snap.tokens == pytest.approx(2)

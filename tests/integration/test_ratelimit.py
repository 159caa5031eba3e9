"""bot.ratelimit.Budget on a real Redis, with a simulated clock shared by two replicas."""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict

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


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


def _replicas(client: aioredis.Redis, clock: SimClock, n: int = 2) -> list[Budget]:
    return [Budget(client, BudgetPolicy(), clock=clock) for _ in range(n)]


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
    budget = Budget(redis_client, policy, clock=clock)
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


async def test_release_forgets_the_stream(redis_client: aioredis.Redis, clock: SimClock) -> None:
    """A released stream no longer counts as active, so its share goes to the others."""
    budget = Budget(redis_client, clock=clock)
    assert await budget.acquire("T1", "a") == 0
    assert await budget.acquire("T1", "b") == 0
    streams = "cs:rl:{T1}:streams"
    assert set(await redis_client.zrange(streams, 0, -1)) == {b"a", b"b"}
    await budget.release("T1", "a")
    assert set(await redis_client.zrange(streams, 0, -1)) == {b"b"}


REFILL_GAP = 60 / 47  # seconds between two tokens with the default policy


async def _empty_bucket(budget: Budget) -> None:
    for i in range(3):
        assert await budget.acquire("T1", f"warm{i}") == 0


async def test_streams_refused_together_wake_one_refill_apart(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """Ten first edits refused at the same instant are told waits one token apart, in the
    order they asked, and each finds its token when it comes back."""
    budget, other = _replicas(redis_client, clock)
    await _empty_bucket(budget)
    replicas = itertools.cycle([budget, other])
    waits = [await next(replicas).acquire("T1", f"s{i}") for i in range(10)]
    assert waits == pytest.approx([(i + 1) * REFILL_GAP for i in range(10)])
    start = clock.now
    for i, wait in enumerate(waits):
        clock.now = start + wait
        assert await next(replicas).acquire("T1", f"s{i}") == 0


async def test_a_newcomer_does_not_take_the_token_of_a_stream_in_line(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """A stream asking for the first time goes to the end of the line, even when it asks
    just before the stream whose token has come."""
    budget, other = _replicas(redis_client, clock)
    await _empty_bucket(budget)
    wait = await budget.acquire("T1", "early")
    assert wait == pytest.approx(REFILL_GAP)
    clock.now += wait
    assert await other.acquire("T1", "late") == pytest.approx(REFILL_GAP)
    assert await budget.acquire("T1", "early") == 0
    clock.now += REFILL_GAP
    assert await other.acquire("T1", "late") == 0


async def test_after_a_pause_the_line_wakes_one_refill_apart(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """Intermediates refused during a 429 pause are spread out after it, in asking order."""
    budget, other = _replicas(redis_client, clock)
    await budget.block_until("T1", 5)
    waits = [await (budget, other)[i % 2].acquire("T1", f"s{i}") for i in range(4)]
    assert waits == pytest.approx([5 + i * REFILL_GAP for i in range(4)])


async def test_a_final_takes_its_stream_out_of_the_line(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """A stream waiting in line that asks for its final counts once (as a final), not twice."""
    budget = Budget(redis_client, clock=clock)
    await _empty_bucket(budget)
    assert await budget.acquire("T1", "a") == pytest.approx(REFILL_GAP)
    assert await budget.acquire("T1", "a", final=True) == pytest.approx(REFILL_GAP)
    assert await budget.acquire("T1", "b") == pytest.approx(2 * REFILL_GAP)


async def test_a_released_or_silent_stream_gives_up_its_place(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """The line does not wait for a released stream, nor, once active_window has passed since
    they were due back, for streams that stopped asking."""
    budget = Budget(redis_client, clock=clock)
    await _empty_bucket(budget)
    for stream in ("gone", "silent0", "silent1", "silent2", "waiting"):
        await budget.acquire("T1", stream)
    await budget.release("T1", "gone")
    assert await budget.acquire("T1", "waiting") == pytest.approx(4 * REFILL_GAP)  # not 5
    # Three silent streams ahead: "waiting" needs a fourth token, more than the bucket holds,
    # until the first of them, due back at T0 + 2 tokens, has been silent for active_window.
    stale_at = T0 + 2 * REFILL_GAP + BudgetPolicy().active_window
    while clock.now + 5 < stale_at:
        clock.now += 5
        assert await budget.acquire("T1", "waiting") > 0
    clock.now = stale_at + 1
    assert await budget.acquire("T1", "waiting") == 0


async def test_a_crowd_asks_a_few_times_per_grant_not_once_per_waiting_stream(
    redis_client: aioredis.Redis, clock: SimClock
) -> None:
    """Eighty eager streams starting together over two replicas: the budget holds, and each
    grant costs a few asks, not one ask per waiting stream per token."""
    budgets = [_CountingBudget(redis_client, BudgetPolicy(), clock=clock) for _ in range(2)]
    grants = await _simulate(list(budgets), clock, streams=80, seconds=240)
    everything = [t for times in grants.values() for t in times]
    assert _max_in_window(everything, 60) <= 50
    assert len(everything) >= 47 * 4 - 80
    assert sum(b.asks for b in budgets) <= 3 * len(everything)


class _CountingBudget(Budget):
    """A budget that counts its asks."""

    asks = 0

    async def acquire(self, team: str, stream_id: str, *, final: bool = False) -> float:
        self.asks += 1
        return await super().acquire(team, stream_id, final=final)

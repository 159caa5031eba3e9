"""bot.lanes.Lanes on a real Redis: one window per Slack method, postMessage per channel."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot.lanes import DEFAULT_PER_MINUTE, Lanes

T0 = 1_732_540_000.0


class SimClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def _grants(lanes: Lanes, lane: str, channel: str, replies: int) -> int:
    """How many of ``replies`` distinct replies get a token of ``lane`` at once."""
    granted = 0
    for n in range(replies):
        granted += await lanes.acquire(lane, "T1", channel, f"r{n}:{channel}") == 0  # type: ignore[arg-type]
    return granted


async def test_each_method_has_its_own_window(redis_client: aioredis.Redis) -> None:
    """Spending chat.update's burst leaves chat.appendStream's and chat.startStream's whole."""
    lanes = Lanes(redis_client, clock=SimClock())
    assert await _grants(lanes, "chat.update", "C1", 10) == 3
    assert await _grants(lanes, "chat.appendStream", "C1", 20) == 10  # a tenth of 100
    assert await _grants(lanes, "chat.startStream", "C1", 20) == 10  # half, for crowds
    assert await _grants(lanes, "chat.update", "C1", 10) == 0


async def test_posts_are_counted_per_channel(redis_client: aioredis.Redis) -> None:
    """chat.postMessage's window is per channel: a busy channel does not hold up another."""
    lanes = Lanes(redis_client, clock=SimClock())
    assert await _grants(lanes, "chat.postMessage", "C1", 10) == 3
    assert await _grants(lanes, "chat.postMessage", "C2", 10) == 3
    assert await _grants(lanes, "chat.postMessage", "C1", 10) == 0


async def test_a_429_pauses_only_its_own_lane(redis_client: aioredis.Redis) -> None:
    clock = SimClock()
    lanes = Lanes(redis_client, clock=clock)
    await lanes.block_until("chat.stopStream", "T1", "C1", 30)
    assert await lanes.acquire("chat.stopStream", "T1", "C1", "r1", final=True) > 0
    assert await lanes.acquire("chat.appendStream", "T1", "C1", "r1") == 0
    # The pause empties the bucket: the first token after it comes one refill later.
    clock.now += 30 + 60 / (20 - 10) + 0.01
    assert await lanes.acquire("chat.stopStream", "T1", "C1", "r1", final=True) == 0


async def test_take_gives_up_past_its_limit(redis_client: aioredis.Redis) -> None:
    """A caller that can't wait (a final) learns at once that the lane has no token soon."""
    lanes = Lanes(redis_client, {"chat.stopStream": 2}, clock=SimClock())
    assert await lanes.take("chat.stopStream", "T1", "C1", "r1", final=True, within=0.0)
    assert not await lanes.take("chat.stopStream", "T1", "C1", "r2", final=True, within=2.0)


def test_unknown_methods_are_refused(redis_client: aioredis.Redis) -> None:
    with pytest.raises(ValueError, match=r"chat\.nope"):
        Lanes(redis_client, {"chat.nope": 5})
    assert set(DEFAULT_PER_MINUTE) >= {"chat.update", "chat.appendStream"}


async def test_a_reply_that_will_not_wait_holds_no_one_back(redis_client: aioredis.Redis) -> None:
    """Refused a stream start it won't wait for, a reply leaves the line: the next token
    goes to whoever asks next, not to a reply that went its own way."""
    clock = SimClock()
    lanes = Lanes(redis_client, clock=clock)
    for n in range(10):
        assert await lanes.take("chat.startStream", "T1", "C1", f"r{n}", within=0.0)
    assert not await lanes.take("chat.startStream", "T1", "C1", "gave-up", within=0.0)
    clock.now += 60 / (20 - 10) + 0.01  # one token refilled
    assert await lanes.take("chat.startStream", "T1", "C1", "next", within=0.0)

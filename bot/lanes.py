"""The delivery scheduler: one budget per Slack method a reply writes through, per workspace.

Slack rate-limits each Web API method separately, per workspace (``chat.postMessage`` per
channel). A reply can show itself through several of them, and :class:`Lanes` keeps one
:class:`bot.ratelimit.Budget` for each, all in Redis so every replica shares them:

==============================  ============  ================================================
lane (method)                   default/min   what a reply uses it for
==============================  ============  ================================================
``chat.update``                 50 (Tier 3)   edits of a posted reply (edit mode, finals)
``chat.postMessage``            60 / channel  the first text, continuations, finals posted anew
``chat.delete``                 50 (Tier 3)   removing a partial a posted final replaced
``chat.startStream``            20 (Tier 2)   opening a native stream
``chat.appendStream``           100 (Tier 4)  streaming text and task chunks into it
``chat.stopStream``             20 (Tier 2)   closing it (with the rest of the final text)
``assistant.threads.setStatus`` 600           "is thinking…" while nothing is visible
==============================  ============  ================================================

Each budget applies :mod:`bot.ratelimit`'s rules (token bucket, fair share among the replies
using the lane, finals first, a 429 pausing the lane for everyone). Which lane a reply takes
at a given moment is :mod:`bot.streaming`'s choice; this module only answers "may this reply
use this method now, and if not, when".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Final, Literal

import redis.asyncio as aioredis

from bot import slack_errors
from bot.ratelimit import Budget, BudgetPolicy

__all__ = ["DEFAULT_PER_MINUTE", "Lane", "Lanes"]

Lane = Literal[
    "chat.update",
    "chat.postMessage",
    "chat.delete",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "assistant.threads.setStatus",
]

DEFAULT_PER_MINUTE: Final[Mapping[Lane, int]] = {
    "chat.update": 50,
    "chat.postMessage": 60,
    "chat.delete": 50,
    "chat.startStream": 20,
    "chat.appendStream": 100,
    "chat.stopStream": 20,
    "assistant.threads.setStatus": 600,
}
"""Slack's published windows (Tier 2 = 20+, Tier 3 = 50+, Tier 4 = 100+ per minute)."""

_PER_CHANNEL: Final = frozenset({"chat.postMessage"})
_KEY_NAMES: Final[Mapping[Lane, str]] = {
    "chat.update": "",  # the keys chat.update's budget had before there were other lanes
    "chat.postMessage": "post",
    "chat.delete": "delete",
    "chat.startStream": "start",
    "chat.appendStream": "append",
    "chat.stopStream": "stop",
    "assistant.threads.setStatus": "status",
}


class Lanes:
    """Every lane's budget for every workspace; see the module docstring.

    ``per_minute`` overrides :data:`DEFAULT_PER_MINUTE` for some lanes; ``min_interval`` is the
    shortest time between two writes of one reply through one lane.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        per_minute: Mapping[str, int] | None = None,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unknown = set(per_minute or {}) - set(DEFAULT_PER_MINUTE)
        if unknown:
            raise ValueError(f"no Slack lane is called {', '.join(sorted(unknown))}")
        self.per_minute: dict[Lane, int] = {
            lane: (per_minute or {}).get(lane, default)
            for lane, default in DEFAULT_PER_MINUTE.items()
        }
        self._budgets: dict[Lane, Budget] = {
            lane: Budget(
                redis,
                BudgetPolicy(
                    per_minute=limit, burst=_burst(lane, limit), min_interval=min_interval
                ),
                lane=_KEY_NAMES[lane],
                clock=clock,
            )
            for lane, limit in self.per_minute.items()
        }

    def budget(self, lane: Lane) -> Budget:
        """The budget of one lane (``chat.update``'s is the reply streams' edit budget)."""
        return self._budgets[lane]

    @staticmethod
    def scope(lane: Lane, team: str, channel: str) -> str:
        """What a lane's window is counted over: the workspace, or one of its channels."""
        return f"{team}:{channel}" if lane in _PER_CHANNEL else team

    async def acquire(
        self, lane: Lane, team: str, channel: str, reply: str, *, final: bool = False
    ) -> float:
        """Ask for one call of ``lane`` for ``reply``: 0 means go now, else seconds to wait."""
        return await self._budgets[lane].acquire(
            self.scope(lane, team, channel), reply, final=final
        )

    async def take(
        self,
        lane: Lane,
        team: str,
        channel: str,
        reply: str,
        *,
        final: bool = False,
        within: float | None = None,
    ) -> bool:
        """Wait for a token of ``lane``; False (nothing taken) when it would take longer than
        ``within`` seconds (None: however long it takes)."""
        waited = 0.0
        while (delay := await self.acquire(lane, team, channel, reply, final=final)) > 0:
            if within is not None and waited + delay > within:
                # Not waiting any longer: its place must not hold back the others.
                await self.forget(lane, team, channel, reply)
                return False
            await asyncio.sleep(delay)
            waited += delay
        return True

    async def block_until(self, lane: Lane, team: str, channel: str, retry_after: float) -> None:
        """Slack answered 429 on ``lane``: pause it (for the workspace, or the channel)."""
        await self._budgets[lane].block_until(self.scope(lane, team, channel), retry_after)

    async def back_off(self, lane: Lane, team: str, channel: str, exc: BaseException) -> None:
        """After a failed call of ``lane``: when Slack rate-limited it, pause the lane for its
        ``Retry-After`` (1 s when Slack gave none); other failures leave the lane as it is."""
        if slack_errors.classify(exc) == "rate_limited":
            await self.block_until(lane, team, channel, slack_errors.retry_after(exc) or 1.0)

    async def forget(self, lane: Lane, team: str, channel: str, reply: str) -> None:
        """Drop ``reply``'s place in one lane: it asked once, was refused and will not wait
        (a reply that opens by a post when no stream can start at once), so it must not hold
        back the replies behind it."""
        await self._budgets[lane].release(self.scope(lane, team, channel), reply)

    async def release(self, team: str, channel: str, reply: str) -> None:
        """Forget a finished reply in every lane, so the others get its share."""
        for lane, budget in self._budgets.items():
            await budget.release(self.scope(lane, team, channel), reply)


def _burst(lane: Lane, per_minute: int) -> int:
    """How many calls a lane may make at once. Any 60 s window holds at most ``per_minute``
    whatever the burst (see :mod:`bot.ratelimit` rule 1); a bigger burst trades sustained
    rate for what a sudden crowd gets at once. Streams start and stop in crowds (a burst of
    mentions, turns ending together), so their Tier 2 lanes keep half the window for it; the
    other small windows keep 3, the big ones a tenth."""
    if lane in _CROWDED:
        return max(1, per_minute // 2)
    return max(1, min(per_minute - 1, 3 if per_minute <= 60 else per_minute // 10))


_CROWDED: Final = frozenset({"chat.startStream", "chat.stopStream"})

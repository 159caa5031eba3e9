"""The retry classifier and the injectable backoff timing."""

from __future__ import annotations

import asyncio

import pytest

from codex_client import (
    AuthError,
    Backoff,
    ConnectionLost,
    NoActiveTurn,
    RpcError,
    ServerOverloaded,
    TransportError,
)
from codex_client._retry import classify, retry_forever, retry_overloaded


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def overloaded() -> ServerOverloaded:
    return ServerOverloaded("turn/start", -32001, "Server overloaded; retry later.")


def test_classify_sorts_failures_into_kinds() -> None:
    """Overload, transport, auth, cancellation and everything else are told apart."""
    assert classify(overloaded()) == "overloaded"
    assert classify(RpcError("x", -32001, "")) == "overloaded"
    assert classify(ConnectionLost("gone")) == "transport"
    assert classify(TransportError("refused")) == "transport"
    assert classify(OSError("reset")) == "transport"
    assert classify(AuthError("401")) == "auth"
    assert classify(asyncio.CancelledError()) == "cancelled"
    assert classify(NoActiveTurn("turn/steer", -32600, "no active turn to steer")) == "fatal"
    assert classify(ValueError("bug")) == "fatal"


def test_backoff_grows_exponentially_up_to_the_cap_with_bounded_jitter() -> None:
    """Delays double from initial to maximum; jitter only ever shortens them."""
    plain = Backoff(initial=0.5, maximum=4.0, jitter=0.0)
    assert [plain.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = Backoff(initial=1.0, maximum=8.0, jitter=0.5, random=lambda: 1.0)
    assert jittered.delay(3) == 2.0
    huge = Backoff(jitter=0.0)
    assert huge.delay(10_000) == huge.maximum


async def test_overload_is_retried_up_to_the_limit_then_raised() -> None:
    """retry_overloaded makes 1 + retries attempts and raises the last ServerOverloaded."""
    sleeps = Sleeps()
    calls = 0

    async def always_overloaded() -> int:
        nonlocal calls
        calls += 1
        raise overloaded()

    with pytest.raises(ServerOverloaded):
        await retry_overloaded(
            always_overloaded, retries=3, backoff=Backoff(0.1, 1.0, jitter=0.0, sleep=sleeps)
        )
    assert calls == 4
    assert sleeps.delays == [0.1, 0.2, 0.4]


async def test_other_errors_are_not_retried() -> None:
    """A non-overload error surfaces at once, without any backoff."""
    sleeps = Sleeps()

    async def gone() -> int:
        raise ConnectionLost("gone")

    with pytest.raises(ConnectionLost):
        await retry_overloaded(gone, retries=5, backoff=Backoff(sleep=sleeps))
    assert sleeps.delays == []


async def test_retry_forever_reports_each_failure_until_success() -> None:
    """The reconnect policy retries any failure, reporting each, until the call succeeds."""
    sleeps = Sleeps()
    failures: list[tuple[str, int]] = []
    outcomes: list[BaseException] = [TransportError("down"), AuthError("401"), ValueError("x")]

    async def flaky() -> str:
        if outcomes:
            raise outcomes.pop(0)
        return "up"

    result = await retry_forever(
        flaky,
        backoff=Backoff(0.01, 0.02, jitter=0.0, sleep=sleeps),
        on_failure=lambda exc, n: failures.append((type(exc).__name__, n)),
    )
    assert result == "up"
    assert failures == [("TransportError", 1), ("AuthError", 2), ("ValueError", 3)]
    assert sleeps.delays == [0.01, 0.02, 0.02]

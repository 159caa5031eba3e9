"""When to try again, and how long to wait first.

One classifier, :func:`classify`, sorts every failure into a :data:`Failure` kind; the two
retry policies of the client are just sets of kinds:

- a request is retried only when the server said it was overloaded (-32001, sent before
  the request ran, so even ``turn/start`` is safe to resend);
- a background reconnect retries everything except cancellation (nobody is there to see
  the error; a refused credential may be rotated on disk meanwhile, and is re-read on
  every attempt).

:class:`Backoff` holds the timing: exponential growth, capped, with jitter so that many
clients knocked off at once do not come back in lockstep. Its ``sleep`` and ``random`` are
injectable, so tests run the policies with tiny or instant delays and never sleep for real.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity import stop_never as _stop_never

from ._errors import AuthError, RpcError, TransportError
from ._protocol import ErrorCode

T = TypeVar("T")
Failure = Literal["overloaded", "transport", "auth", "cancelled", "fatal"]

logger = logging.getLogger("codex_client.retry")


def classify(exc: BaseException) -> Failure:
    """The kind of a failure, for deciding whether to try again."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, RpcError) and exc.code == ErrorCode.SERVER_OVERLOADED:
        return "overloaded"
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, TransportError | OSError | TimeoutError):
        return "transport"
    return "fatal"


REQUEST_RETRIES: frozenset[Failure] = frozenset({"overloaded"})
RECONNECT_RETRIES: frozenset[Failure] = frozenset({"overloaded", "transport", "auth", "fatal"})


@dataclass(frozen=True)
class Backoff:
    """Capped exponential delays with jitter: attempt ``n`` (from 1) waits
    ``min(maximum, initial * multiplier ** (n - 1))``, less a random share of up to
    ``jitter`` of it."""

    initial: float = 0.25
    maximum: float = 15.0
    multiplier: float = 2.0
    jitter: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        exponent = max(0, attempt - 1)
        # Cap the exponent too: a reconnect loop can run for days.
        base = min(self.maximum, self.initial * self.multiplier ** min(exponent, 64))
        return base * (1.0 - self.jitter * self.random())

    def _wait(self, state: RetryCallState) -> float:
        return self.delay(state.attempt_number)


async def retry_overloaded(
    call: Callable[[], Awaitable[T]], *, retries: int, backoff: Backoff, what: str = ""
) -> T:
    """Run ``call``, retrying up to ``retries`` times while the server is overloaded.

    The last :class:`~codex_client.ServerOverloaded` is raised when every attempt
    was refused; any other failure is raised at once.
    """

    def log(state: RetryCallState) -> None:
        logger.info("%s: server overloaded (attempt %d), backing off", what, state.attempt_number)

    retrying = _retrying(
        backoff, stop=stop_after_attempt(retries + 1), kinds=REQUEST_RETRIES, before_sleep=log
    )
    return await _run(retrying, call)


async def retry_forever(
    call: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    on_failure: Callable[[BaseException, int], None],
) -> T:
    """Run ``call`` until it succeeds, reporting each failure; only cancellation stops it."""

    def report(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is not None:
            on_failure(exc, state.attempt_number)

    retrying = _retrying(backoff, stop=_stop_never, kinds=RECONNECT_RETRIES, before_sleep=report)
    return await _run(retrying, call)


def _retrying(
    backoff: Backoff,
    *,
    stop: Any,
    kinds: Collection[str],
    before_sleep: Callable[[RetryCallState], None],
) -> AsyncRetrying:
    """The one tenacity policy shape of the client: ``backoff``'s delays (and sleep), retrying
    the failures whose :func:`classify` kind is in ``kinds``, re-raising the last one."""
    return AsyncRetrying(
        stop=stop,
        wait=backoff._wait,
        retry=retry_if_exception(lambda exc: classify(exc) in kinds),
        sleep=backoff.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


async def _run(retrying: AsyncRetrying, call: Callable[[], Awaitable[T]]) -> T:
    # The iterator form accepts any callable returning an awaitable (a lambda included).
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: reraise=True re-raises the last failure")

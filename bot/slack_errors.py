"""What a failed Slack Web API call means, and how long to keep trying it.

Slack's bad minutes come in a few shapes, and each wants its own answer:

- **rate limited**: HTTP 429 (or ``error: ratelimited``) with ``Retry-After``: wait exactly
  that long, then try again;
- **transient**: HTTP 5xx (with or without a JSON body), ``internal_error``/``fatal_error``/
  ``service_unavailable``/``request_timeout``, a dropped connection, a timeout: try again
  with backoff, for a bounded window;
- **gone**: ``message_not_found``: the message to edit was deleted; post a new one instead;
- **permanent**: anything else (``channel_not_found``, ``is_archived``, ``not_in_channel``,
  ``msg_too_long``…): trying again cannot help.

:func:`retrying` is the one tenacity policy for calls that must not be lost (a reply's final
text): transient and rate-limited failures are retried until the window closes; the wait is
``Retry-After`` when Slack gave one, else jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
from typing import Final, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

Kind = Literal["rate_limited", "transient", "gone", "permanent"]

FAILURES: Final = (SlackApiError, aiohttp.ClientError, TimeoutError, OSError)
"""What a Slack call raises when Slack (or the way to it) fails, as opposed to a bug here."""

_TRANSIENT_ERRORS: Final = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_GONE_ERRORS: Final = frozenset({"message_not_found"})

MAX_BACKOFF_SECONDS: Final = 15.0
"""The longest pause between two attempts when Slack said nothing about when to come back."""


def error_code(exc: BaseException) -> str | None:
    """Slack's ``error`` string of a failed call (``channel_not_found``…), if it sent one."""
    if not isinstance(exc, SlackApiError) or exc.response is None:
        return None
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) else None


def status_code(exc: BaseException) -> int | None:
    """The HTTP status of a failed call, if it got an answer at all."""
    if not isinstance(exc, SlackApiError) or exc.response is None:
        return None
    status = getattr(exc.response, "status_code", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> Kind:
    """Which of the shapes in the module docstring a failed call's exception is."""
    if isinstance(exc, SlackApiError):
        status = status_code(exc)
        code = error_code(exc)
        if status == 429 or code == "ratelimited":
            return "rate_limited"
        if (status is not None and status >= 500) or code in _TRANSIENT_ERRORS:
            return "transient"
        if code in _GONE_ERRORS:
            return "gone"
        if code is None and status is not None and status != 200:
            return "transient"  # an answer without a Slack error body: an edge proxy's page
        return "permanent"
    if isinstance(exc, aiohttp.ClientError | TimeoutError | asyncio.TimeoutError | OSError):
        return "transient"
    return "permanent"


def is_retryable(exc: BaseException) -> bool:
    """True for failures that waiting can fix (rate limits and transient errors)."""
    return classify(exc) in ("rate_limited", "transient")


def retry_after(exc: BaseException) -> float | None:
    """Slack's ``Retry-After`` for a rate-limited call, in seconds; None when absent."""
    if not isinstance(exc, SlackApiError) or exc.response is None:
        return None
    headers = getattr(exc.response, "headers", None) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


class _WaitRetryAfterOrBackoff:
    """Tenacity wait: Slack's own ``Retry-After`` when given, else jittered backoff."""

    def __init__(self) -> None:
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=MAX_BACKOFF_SECONDS)

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        asked = retry_after(exc) if exc is not None else None
        return asked if asked is not None else float(self._backoff(state))


def retrying(window_seconds: float) -> AsyncRetrying:
    """Attempts of one must-not-lose call, for up to ``window_seconds``; re-raises the last
    failure when the window closes or the failure is not retryable."""
    return AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        wait=_WaitRetryAfterOrBackoff(),
        stop=stop_after_delay(window_seconds),
        reraise=True,
    )

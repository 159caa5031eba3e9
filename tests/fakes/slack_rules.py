"""Moved to :mod:`playground.slack.rules` (see :mod:`tests.fakes.slack_api`)."""

from playground.slack.rules import (
    DEFAULT_RATE_LIMITS,
    DEFAULT_SCOPES,
    MAX_STREAM_MARKDOWN,
    METHOD_SCOPES,
    FaultBody,
    FaultMode,
    FaultWindow,
    RateLimit,
    RateLimiter,
    accepted_scopes,
    block_errors,
    chunks_ok,
    content_error,
    scope_error,
)

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_SCOPES",
    "MAX_STREAM_MARKDOWN",
    "METHOD_SCOPES",
    "FaultBody",
    "FaultMode",
    "FaultWindow",
    "RateLimit",
    "RateLimiter",
    "accepted_scopes",
    "block_errors",
    "chunks_ok",
    "content_error",
    "scope_error",
]

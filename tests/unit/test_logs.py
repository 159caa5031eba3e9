"""JSON log lines: context fields kept, token-shaped strings masked."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter, redact


def test_redact_masks_every_token_shape() -> None:
    """Slack bot/app tokens, bearer headers, JWTs and OpenAI keys become [redacted]."""
    text = (
        "xoxb-123-456-abc xapp-1-A-2-xyz Authorization: Bearer abc.def "
        "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.sig sk-proj-abcdefghijkl"
    )
    masked = redact(text)
    for secret in ("xoxb-123", "xapp-1", "abc.def", "eyJhbGci", "sk-proj"):
        assert secret not in masked
    assert masked.count("[redacted]") == 5


def test_json_formatter_keeps_ids_and_masks_the_message() -> None:
    """A record becomes one JSON object with the Slack ids given in extra, secrets masked."""
    record = logging.LogRecord(
        "bot.x", logging.INFO, __file__, 1, "token %s", ("xoxb-1-2-3",), None
    )
    record.team = "T1"
    record.channel = "C1"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "token [redacted]"
    assert (entry["team"], entry["channel"], entry["level"]) == ("T1", "C1", "info")

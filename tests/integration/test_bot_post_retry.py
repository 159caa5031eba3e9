"""End to end: a rate-limited ``chat.postMessage`` is sent again, so no mention is dropped.

Slack allows about one post per second per channel; a burst of mentions in one channel gets
429s on the placeholders. The bot's Web client waits out ``Retry-After`` and posts again.
"""

from __future__ import annotations

from playground.slack.api import SlackFake
from tests.integration.bot_harness import BotHarness, final_reply, seconds


async def test_a_rate_limited_placeholder_is_posted_again_and_the_mention_answered(
    harness: BotHarness, slack: SlackFake
) -> None:
    """Two 429s on the placeholder post: it is sent again after Retry-After; the answer is exact."""
    slack.fail_next("chat.postMessage", times=2, retry_after=seconds(1))
    event = await harness.mention("despite the rate limit")
    await final_reply(slack, event["ts"], "echo: despite the rate limit")
    statuses = [c["status"] for c in slack.calls_for("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert rate_limited(harness, "chat.postMessage") == 2


async def test_a_rate_limited_edit_is_not_resent_by_the_client(
    harness: BotHarness, slack: SlackFake
) -> None:
    """A 429 on chat.update reaches the bot (no client resend of a stale frame); text exact."""
    slack.fail_next("chat.update", times=1, retry_after=seconds(1))
    event = await harness.mention("DELTAS 6 one refused edit")
    await final_reply(slack, event["ts"], "echo: DELTAS 6 one refused edit")
    statuses = [c["status"] for c in slack.calls_for("chat.update")]
    assert statuses.count(429) == 1
    assert rate_limited(harness, "chat.update") == 1


def rate_limited(harness: BotHarness, method: str) -> float:
    """The bot's count of 429s from Slack for ``method``."""
    assert harness.service is not None
    registry = harness.service.metrics.registry
    value = registry.get_sample_value("codex_slack_slack_ratelimited_total", {"method": method})
    return value or 0.0

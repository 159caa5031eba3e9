"""A reply stream's native paths that a whole bot can't provoke on demand, on real lanes.

:class:`bot.streaming.ReplyStream` against the Slack fake and a real Redis (its lanes), fed by
hand: a stream that Slack refuses to grow (``msg_too_long``) and a start that is refused for
good. Each ends on the exact text, every character once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.lanes import Lanes
from bot.native_stream import StreamRules
from bot.streaming import NativeGate, ReplyStream, StreamLimits
from playground.slack.api import SlackFake

CHANNEL, THREAD_TS, TEAM, USER = "C0001", "1732540000.000100", "T0001", "U0001"


@pytest.fixture
async def slack() -> AsyncIterator[SlackFake]:
    async with SlackFake() as fake:
        yield fake


@pytest.fixture
async def client(slack: SlackFake) -> AsyncIterator[AsyncWebClient]:
    web = AsyncWebClient(token="xoxb-unit", base_url=slack.url)
    yield web
    if web.session is not None:
        await web.session.close()


def reply(
    client: AsyncWebClient, lanes: Lanes, *, limits: StreamLimits, gate: NativeGate | None = None
) -> ReplyStream:
    return ReplyStream(
        slack=client,
        budget=lanes.budget("chat.update"),
        team=TEAM,
        channel=CHANNEL,
        thread_ts=THREAD_TS,
        first_ts=None,
        stream_id="reply-1",
        limits=limits,
        lanes=lanes,
        delivery="native",
        recipient=USER,
        native_gate=gate,
        stop_value="stop-1",
    )


def thread_text(slack: SlackFake) -> str:
    replies = [m for m in slack.messages(CHANNEL, thread_ts=THREAD_TS) if m["ts"] != THREAD_TS]
    return "".join(
        b["text"] for m in replies for b in m.get("blocks") or [] if b["type"] == "markdown"
    )


async def test_a_stream_slack_will_not_grow_goes_on_by_edits(
    slack: SlackFake, client: AsyncWebClient, redis_client: aioredis.Redis
) -> None:
    """The bot thought a stream held more than Slack's 12,000 characters: the call that
    crosses Slack's cap is refused (msg_too_long), the stream is closed as it stands and the
    reply goes on by edits and a continuation, exactly."""
    lanes = Lanes(redis_client, min_interval=0.0)
    limits = StreamLimits(stream_rules=StreamRules(message_chars=20_000), message_chars=12_000)
    stream = reply(client, lanes, limits=limits)
    stream.start()
    text = "".join(f"line {n:05d}\n" for n in range(2000))  # 22,000 characters
    stream.add_delta("m1", text[:6000])
    await slack.wait_for(lambda: slack.calls_for("chat.startStream"))
    stream.add_delta("m1", text[6000:])
    await slack.wait_for(lambda: slack.calls_for("chat.update"))  # went on by edits
    assert await stream.finish(text)
    refused = [
        c["response"]["error"]
        for c in slack.calls
        if c["method"] in ("chat.appendStream", "chat.stopStream") and not c["response"]["ok"]
    ]
    assert refused == ["msg_too_long"]  # the call that would cross Slack's cap (a rotation)
    assert stream.stats.native_fallback == "msg_too_long"
    assert thread_text(slack) == text
    assert not any(m.get("streaming") for m in slack.messages(CHANNEL))


async def test_a_workspace_that_refuses_streams_is_remembered(
    slack: SlackFake, client: AsyncWebClient, redis_client: aioredis.Redis
) -> None:
    """A refused start (no feature) posts the first text instead, and the gate keeps the
    next reply of that workspace from asking again."""
    slack.streaming_error = "not_allowed"
    lanes = Lanes(redis_client, min_interval=0.0)
    gate = NativeGate()
    stream = reply(client, lanes, limits=StreamLimits(), gate=gate)
    stream.start()
    stream.add_delta("m1", "hello")
    await slack.wait_for(lambda: slack.calls_for("chat.postMessage"))  # the first text, posted
    assert await stream.finish("hello there")
    assert not gate.allows(TEAM)
    assert thread_text(slack) == "hello there"
    assert len(slack.calls_for("chat.startStream")) == 1

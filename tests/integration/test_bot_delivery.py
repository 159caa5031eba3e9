"""End to end: how a reply reaches Slack through its lanes, native streams first.

The bot runs with ``SLACK_DELIVERY=native``/``auto``, the thread status on and a deferred first
post, against the real app-server (scripted model), real Redis and the Slack fake, whose
streams expire and refuse as Slack's do. Every test ends on the model's exact text.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.store import Store
from playground.model.scripted import ModelServer, drip_text, long_text
from playground.slack.api import SlackFake
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import (
    CHANNEL,
    TEAM,
    USER,
    bot_replies,
    final_reply,
    has_stop_button,
    reply_text,
    seconds,
)
from tests.integration.conftest import StartBot, StartBotProcess
from tests.integration.reliability import eventually, job_of, owner_changes


class HandClock:
    """Slack's clock in these tests: real time plus whatever a test moves it on by."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def store(redis_client: aioredis.Redis) -> Store:
    return Store(redis_client)


@pytest.fixture
def slack_clock() -> HandClock:
    return HandClock()


@pytest.fixture
async def slack(slack_clock: HandClock) -> AsyncIterator[SlackFake]:
    """The Slack fake on a clock the tests can move (stream expiry is minutes long)."""
    async with SlackFake(clock=slack_clock) as fake:
        yield fake


NATIVE: dict[str, Any] = {
    "slack_delivery": "native",
    "slack_thread_status": True,
    "slack_first_post_seconds": seconds(20),
}


def streams(slack: SlackFake, thread_ts: str) -> list[dict[str, Any]]:
    """The bot's stream messages in a thread (``streaming`` is set on them, open or not)."""
    return [m for m in bot_replies(slack, thread_ts) if "streaming" in m]


async def open_stream(slack: SlackFake, thread_ts: str) -> dict[str, Any]:
    """Wait for the thread's stream to open and show some text; returns its message."""
    await slack.wait_for(
        lambda: any(m["streaming"] and reply_text(m) for m in streams(slack, thread_ts))
    )
    return streams(slack, thread_ts)[-1]


async def test_a_native_stream_carries_the_answer_to_its_exact_end(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """The reply is one stream for the mention's author: started, appended, stopped; no edits."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("DELTAS 6 stream this")
    replies = await final_reply(slack, event["ts"], "echo: DELTAS 6 stream this")
    assert len(replies) == 1
    assert replies[0]["streaming"] is False
    start = slack.calls_for("chat.startStream")[0]["params"]
    assert (start["recipient_user_id"], start["recipient_team_id"]) == (USER, TEAM)
    assert start["thread_ts"] == event["ts"]
    assert slack.calls_for("chat.stopStream"), "the stream was closed, not left to expire"
    assert not slack.calls_for("chat.update")
    assert not slack.calls_for("chat.postMessage")


async def test_the_status_shows_until_the_first_text(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """From the mention until text shows, the thread says the bot is thinking; the first text
    opens the stream (no placeholder is posted and then edited)."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("HOLD for status")
    stream = await open_stream(slack, event["ts"])
    history = slack.status_history(CHANNEL, event["ts"])
    assert history[0]["status"] == "is thinking…"
    assert slack.status(CHANNEL, event["ts"]) == "", "the stream's message cleared the status"
    assert reply_text(stream).startswith("held")
    model_server.release()
    await final_reply(slack, event["ts"], "held then released")
    assert not any(
        render_thinking in reply_text(version)
        for version in slack.history(CHANNEL, stream["ts"])
        for render_thinking in ("Thinking",)
    )


async def test_a_long_answer_rotates_into_new_streams_without_losing_a_character(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """Past 12,000 characters a stream is closed and the rest goes on in the next message:
    read back to back, the messages are exactly the answer, each within Slack's cap, and
    nothing streamed was edited again."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("DRIP 2500 1")
    replies = await final_reply(slack, event["ts"], drip_text(2500))
    assert len(replies) == 2
    assert all(len(reply_text(r)) <= 12_000 for r in replies)
    assert replies[0]["streaming"] is False
    assert len(reply_text(replies[0])) == 12_000
    assert not slack.calls_for("chat.update")


async def test_an_answer_known_at_once_is_cut_like_a_posted_reply(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """A long answer that arrives before the stream could show it: the stream takes its
    first 12,000 characters, the rest follows as posts; exact and lossless."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("LONG 30000")
    replies = await final_reply(slack, event["ts"], long_text(30000))
    assert all(len(reply_text(r)) <= 12_000 for r in replies)
    assert replies[0]["streaming"] is False


async def test_a_workspace_without_streams_gets_posts_and_edits(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """In auto mode, a refused start falls back to a posted first text edited to the end, and
    the workspace is not asked to stream again."""
    slack.streaming_error = "feature_not_enabled"
    harness = await start_bot(**{**NATIVE, "slack_delivery": "auto"})
    first = await harness.mention("DELTAS 5 no streams here")
    await final_reply(slack, first["ts"], "echo: DELTAS 5 no streams here")
    second = await harness.mention("and again")
    await final_reply(slack, second["ts"], "echo: and again")
    assert len(slack.calls_for("chat.startStream")) == 1
    posts = slack.calls_for("chat.postMessage")
    assert [p["params"]["thread_ts"] for p in posts] == [first["ts"], second["ts"]]


async def test_an_expired_stream_goes_on_by_edits_of_the_same_message(
    start_bot: StartBot, slack: SlackFake, slack_clock: HandClock, model_server: ModelServer
) -> None:
    """Slack closed the stream (idle too long): the rest arrives by chat.update on the same
    message, which ends on the exact text with nothing repeated."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("HOLD until the stream expires")
    stream = await open_stream(slack, event["ts"])
    slack_clock.advance(31)  # Slack ends a stream idle for about 30 seconds
    model_server.release()
    replies = await final_reply(slack, event["ts"], "held then released")
    assert [r["ts"] for r in replies] == [stream["ts"]]
    assert slack.calls_for("chat.update")
    refused = [c for c in slack.calls_for("chat.appendStream") if not c["response"].get("ok")]
    assert refused, "the bot tried the stream first"
    assert refused[0]["response"]["error"] == "message_not_in_streaming_state"


async def test_stop_pressed_on_the_stream_interrupts_the_turn(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """The recipient's Stop on Slack's stream (``stopped_by_user``) stops the Codex turn like
    the Stop button: the reply keeps what it showed and says who stopped it."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("DRIP 200 20")
    stream = await open_stream(slack, event["ts"])
    slack.stop_stream_by_user(CHANNEL, stream["ts"])

    def stopped() -> str:
        replies = bot_replies(slack, event["ts"])
        texts = [reply_text(r) for r in replies if not has_stop_button(r)]
        return next((t for t in texts if "stopped" in t.lower()), "")

    text = await slack.wait_for(stopped, timeout=30)
    assert f"<@{USER}>" in text
    assert drip_text(200) not in text, "the turn was interrupted, not run to its end"
    assert len(bot_replies(slack, event["ts"])) == 1


async def test_edit_delivery_posts_the_first_text_instead_of_a_placeholder(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """In edit mode too, a reply whose first text comes quickly starts as a post of that text:
    nothing says "Thinking…" only to be edited a moment later."""
    harness = await start_bot(**{**NATIVE, "slack_delivery": "edit"})
    event = await harness.mention("DELTAS 4 quick answer")
    await final_reply(slack, event["ts"], "echo: DELTAS 4 quick answer")
    first_post = slack.calls_for("chat.postMessage")[0]["params"]
    assert "Thinking" not in first_post["text"]
    assert not slack.calls_for("chat.startStream")
    assert slack.status_history(CHANNEL, event["ts"])[0]["status"] == "is thinking…"


async def test_a_stream_whose_replica_died_is_finished_by_its_successor(
    start_bot_process: StartBotProcess, slack: SlackFake, model_server: ModelServer, store: Store
) -> None:
    """kill -9 while the reply streams natively: the successor cannot append to a stream it
    did not open, so it closes it and ends the same message on the exact text by an edit."""
    bot = await start_bot_process(**NATIVE, replica_heartbeat_seconds=1.0)
    event = await bot.mention("HOLD through a crash")
    stream = await open_stream(slack, event["ts"])
    job = await job_of(store, event["ts"])
    assert job is not None

    bot.kill()
    assert await bot.wait() == -9
    await bot.start()
    await owner_changes(store, event["ts"], job.owner)
    model_server.release()

    replies = await final_reply(slack, event["ts"], "held then released")
    assert [r["ts"] for r in replies] == [stream["ts"]]
    conflicts = [c for c in slack.calls_for("chat.update") if c["response"].get("error")]
    assert [c["response"]["error"] for c in conflicts] == ["streaming_state_conflict"]
    asked = [r for r in model_server.requests if r.last_user_text == "HOLD through a crash"]
    assert len(asked) == 1


async def test_a_final_does_not_wait_for_a_busy_stop_lane(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """Slack refuses to close the stream for a while (429): the final text is posted at once
    in the thread, then the partial stream is closed and deleted; the thread reads as one
    clean answer."""
    harness = await start_bot(**NATIVE)
    slack.fail_next("chat.stopStream", error="ratelimited", retry_after=seconds(30))
    event = await harness.mention("DRIP 40 20")
    replies = await final_reply(slack, event["ts"], drip_text(40))
    assert len(replies) == 1
    assert "streaming" not in replies[0], "the answer is the posted message"
    stops = slack.calls_for("chat.stopStream")
    final_post = slack.calls_for("chat.postMessage")[-1]
    assert stops[0]["status"] == 429
    assert final_post["timestamp"] < stops[1]["timestamp"], "the final waited for the lane"
    assert slack.calls_for("chat.delete")[-1]["params"]["ts"] == stops[1]["params"]["ts"]


async def test_tool_runs_show_as_tasks_of_the_stream(
    start_bot: StartBot, slack: SlackFake, codex_server: CodexServer
) -> None:
    """The command Codex ran before answering opens the stream's timeline as a finished task
    (edit mode shows the activity line instead)."""
    harness = await start_bot(**NATIVE, codex_cwd=str(codex_server.cwd))
    event = await harness.mention("EXEC echo from-a-tool")
    replies = await final_reply(slack, event["ts"], "ran: echo from-a-tool")
    tasks = replies[0].get("tasks") or []
    assert [(t["title"], t["status"]) for t in tasks] == [
        ("running `echo from-a-tool`", "complete")
    ]


async def test_an_append_whose_answer_was_lost_is_not_sent_again(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """Slack applied an append but the connection dropped before its answer: sending it again
    would repeat text, so the reply goes on by edits (which replace) and ends exact."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("DRIP 60 20")
    await open_stream(slack, event["ts"])
    window = slack.fault("chat.appendStream", "apply_then_drop")
    await slack.wait_for(lambda: window.calls)
    window.end()
    await final_reply(slack, event["ts"], drip_text(60))
    assert len(window.calls) == 1, "the append was sent once"


async def test_a_stream_is_rotated_before_slack_would_end_it(
    start_bot: StartBot, slack: SlackFake
) -> None:
    """A stream older than SLACK_STREAM_ROTATE_SECONDS is closed and the answer goes on in a
    new one (Slack ends streams after about five minutes): several stream messages, each
    closed, reading back to back exactly as the answer."""
    harness = await start_bot(**NATIVE, slack_stream_rotate_seconds=seconds(3))
    event = await harness.mention("DRIP 60 25")  # about 1.5 s of answer
    replies = await final_reply(slack, event["ts"], drip_text(60))
    assert len(replies) >= 2
    assert all(r["streaming"] is False for r in replies)
    assert len(slack.calls_for("chat.startStream")) == len(replies)
    assert not slack.calls_for("chat.update")


async def test_native_replies_and_their_fallbacks_are_counted(
    start_bot: StartBot, slack: SlackFake, slack_clock: HandClock, model_server: ModelServer
) -> None:
    """/metrics says how replies streamed and why a stream gave way to edits."""
    harness = await start_bot(**NATIVE)
    event = await harness.mention("HOLD until the stream expires")
    await open_stream(slack, event["ts"])
    slack_clock.advance(31)
    model_server.release()
    await final_reply(slack, event["ts"], "held then released")
    service = harness.service
    assert service is not None
    counted = 'codex_slack_replies_total{delivery="native",final="in_place"} 1.0'

    async def reply_counted() -> bool:  # counted just after the final, in the same task
        return counted in service.metrics.render().decode()

    await eventually(reply_counted, what="the reply to be counted")
    fallback = 'codex_slack_native_fallbacks_total{why="message_not_in_streaming_state"} 1.0'
    assert fallback in service.metrics.render().decode()

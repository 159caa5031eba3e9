"""End to end: Slack mentions become Codex turns whose answers stream back as edits.

Real Redis, the real Codex app-server with the scripted model, the Slack Web API fake, and
real signed HTTP requests to the bot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from playground.model.scripted import ModelServer, long_text
from playground.slack.api import SlackFake
from tests.conftest import _wait_for_redis, free_port
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import (
    CHANNEL,
    SIGNING_SECRET,
    BotHarness,
    bot_replies,
    bot_settings,
    final_reply,
    has_stop_button,
    reply_text,
    seconds,
)


async def test_a_mention_is_answered_with_the_exact_final_text(
    harness: BotHarness, slack: SlackFake
) -> None:
    """A top-level mention gets a placeholder, then edits ending on the agent's exact text."""
    event = await harness.mention("hello there")
    replies = await final_reply(slack, event["ts"], "echo: hello there")
    assert len(replies) == 1
    assert slack.calls_for("chat.postMessage")[0]["params"]["thread_ts"] == event["ts"]
    assert slack.calls_for("chat.update"), "the answer arrives as edits of the placeholder"


async def test_a_follow_up_continues_the_same_codex_thread(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """A reply in the thread is a second turn of the same Codex thread: the model sees turn one."""
    first = await harness.mention("first question")
    await final_reply(slack, first["ts"], "echo: first question")
    await harness.mention("second question", thread_ts=first["ts"])
    await final_reply(slack, first["ts"], "echo: first questionecho: second question")
    last = model_server.requests[-1]
    assert last.user_texts[-2:] == ["first question", "second question"]


async def test_a_retried_event_starts_no_second_turn(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """Slack's retry of an event (same event_id) and the twin ``message`` event run one turn."""
    event = await harness.mention("only once")
    await harness.mention("only once", event_id=event["event_id"], retry_num=1, ts=event["ts"])
    await harness.mention("only once", ts=event["ts"])  # the `message` twin: new id, same ts
    await final_reply(slack, event["ts"], "echo: only once")
    prompts = [r.last_user_text for r in model_server.requests]
    assert prompts.count("only once") == 1


async def test_the_thread_survives_a_bot_restart(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """After a redeploy, a reply in the thread continues the same Codex thread (Redis mapping)."""
    first = await harness.mention("before restart")
    await final_reply(slack, first["ts"], "echo: before restart")
    await harness.restart()
    await harness.mention("after restart", thread_ts=first["ts"])
    await final_reply(slack, first["ts"], "echo: before restartecho: after restart")
    assert model_server.requests[-1].user_texts[-2:] == ["before restart", "after restart"]


async def test_the_thread_survives_a_codex_restart(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer, codex_server: CodexServer
) -> None:
    """After the app-server restarts, the next turn resumes the Codex thread and works."""
    first = await harness.mention("before codex restart")
    await final_reply(slack, first["ts"], "echo: before codex restart")
    await codex_server.restart()
    await harness.mention("after codex restart", thread_ts=first["ts"])
    await final_reply(slack, first["ts"], "echo: before codex restartecho: after codex restart")
    assert model_server.requests[-1].user_texts[-2:] == [
        "before codex restart",
        "after codex restart",
    ]


async def test_rate_limited_edits_still_end_on_the_exact_text(
    harness: BotHarness, slack: SlackFake
) -> None:
    """429s with Retry-After on chat.update skip frames but never lose the final text."""
    slack.fail_next("chat.update", times=3, retry_after=seconds(1))
    event = await harness.mention("DELTAS 12 rate limited answer")
    await final_reply(slack, event["ts"], "echo: DELTAS 12 rate limited answer")
    statuses = [c["status"] for c in slack.calls_for("chat.update")]
    # The reply met Slack's refusals and still ended exact (above): by an edit, or, when the
    # edit lane stayed blocked past two seconds (production pacing), by a new post.
    assert 429 in statuses


async def test_a_long_answer_rolls_over_without_losing_a_character(
    harness: BotHarness, slack: SlackFake
) -> None:
    """An answer over 12,000 characters continues in more messages; together they are exact."""
    expected = long_text(30_000)
    event = await harness.mention("LONG 30000")
    replies = await final_reply(slack, event["ts"], expected)
    assert len(replies) >= 3
    assert all(len(reply_text(r)) <= 12_000 for r in replies)


async def test_a_mention_during_a_turn_is_queued_and_runs_next(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """A second mention while a turn runs is told it is queued, then becomes the next turn."""
    first = await harness.mention("HOLD this one")
    await model_server.wait_for_hold()
    await harness.mention("queued one", thread_ts=first["ts"])
    await slack.wait_for(
        lambda: any(
            "queued" in str(m.get("text", "")).lower() for m in bot_replies(slack, first["ts"])
        ),
        timeout=10,
    )
    model_server.release()
    await final_reply(slack, first["ts"], "held then releasedecho: queued one")


async def test_a_failed_turn_says_so_in_the_reply(harness: BotHarness, slack: SlackFake) -> None:
    """When the model fails, the reply says the turn failed instead of hanging."""
    event = await harness.mention("FAIL500 please")
    await slack.wait_for(
        lambda: any(
            "failed" in reply_text(r).lower() and not has_stop_button(r)
            for r in bot_replies(slack, event["ts"])
        ),
        timeout=30,
    )


@pytest.mark.parametrize(
    ("secret", "age"),
    [("wrong-secret-0123456789abcdef0123", 0), (SIGNING_SECRET, 6 * 60)],
    ids=["forged", "stale"],
)
async def test_a_forged_or_stale_signature_is_refused(
    harness: BotHarness, slack: SlackFake, secret: str, age: int
) -> None:
    """A request signed with the wrong secret, or over five minutes old, gets 401 and no turn."""
    payload = {
        "type": "event_callback",
        "team_id": "T0001",
        "event_id": "EvForged",
        "event": {
            "type": "app_mention",
            "user": "U1",
            "text": "hi",
            "ts": "1.1",
            "channel": CHANNEL,
        },
    }
    status, _ = await harness.post_signed(
        json.dumps(payload).encode(), secret=secret, timestamp=int(time.time()) - age
    )
    assert status == 401
    assert not slack.calls_for("chat.postMessage")


async def test_a_garbled_event_is_acknowledged_and_ignored(
    harness: BotHarness, slack: SlackFake
) -> None:
    """A signed event of an unknown type, or with missing fields, is acked 200 and does nothing."""
    for payload in (
        {
            "type": "event_callback",
            "team_id": "T0001",
            "event_id": "EvOdd1",
            "event": {"type": "reaction_added", "user": "U1"},
        },
        {
            "type": "event_callback",
            "team_id": "T0001",
            "event_id": "EvOdd2",
            "event": {"type": "app_mention", "channel": CHANNEL},
        },
    ):
        status, _ = await harness.post_signed(json.dumps(payload).encode())
        assert status == 200
    await harness.mention("still alive")
    assert not [c for c in slack.calls_for("chat.postMessage") if "Odd" in json.dumps(c)]


async def test_codex_unreachable_is_told_in_the_thread(
    harness: BotHarness, slack: SlackFake, codex_server: CodexServer, redis_url: str
) -> None:
    """With the app-server down, the reply says Codex is unreachable; the mapping stays."""
    first = await harness.mention("while up")
    await final_reply(slack, first["ts"], "echo: while up")
    await codex_server.stop()
    await harness.mention("while down", thread_ts=first["ts"])
    await slack.wait_for(
        lambda: any(
            "codex" in reply_text(r).lower() and "reach" in reply_text(r).lower()
            for r in bot_replies(slack, first["ts"])
        ),
        timeout=90,
    )
    client = aioredis.from_url(redis_url)
    try:
        assert [k async for k in client.scan_iter("*thread*")]
    finally:
        await client.aclose()


@pytest.fixture
def stoppable_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A private redis-server the test stops when it likes: its URL, and how to stop it."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed; run scripts/bootstrap"
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)

    try:
        _wait_for_redis(port, server)
        yield f"redis://127.0.0.1:{port}/0", stop
    finally:
        stop()


async def test_redis_unreachable_is_told_in_the_thread(
    slack: SlackFake,
    codex_server: CodexServer,
    model_server: ModelServer,
    stoppable_redis: tuple[str, Callable[[], None]],
) -> None:
    """With Redis gone down after the start, a mention gets a clear reply and the bot keeps
    serving. (A start without Redis stops at once, naming REDIS_URL: test_first_run.)"""
    url, stop_redis = stoppable_redis
    settings = bot_settings(slack, codex_server, url)
    bot = BotHarness(slack, codex_server, model_server, url, settings)
    await bot.start()
    stop_redis()
    try:
        event = await bot.mention("no redis")
        await slack.wait_for(
            lambda: any(
                "redis" in str(m.get("text", "")).lower() for m in bot_replies(slack, event["ts"])
            ),
            timeout=30,
        )
        status, _ = await bot.post_signed(b'{"type": "event_callback"}')
        assert status == 200
    finally:
        await bot.close()


async def test_without_codex_url_the_bot_spawns_the_app_server_over_stdio(
    slack: SlackFake,
    codex_server: CodexServer,
    model_server: ModelServer,
    redis_url: str,
    codex_binary: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded default: no CODEX_URL, and a mention is answered by a stdio child."""
    for name, value in codex_server.env.items():
        if name in ("CODEX_HOME", "FAKE_API_KEY"):
            monkeypatch.setenv(name, value)
    settings = bot_settings(
        slack,
        codex_server,
        redis_url,
        codex_url=None,
        codex_bin=str(codex_binary),
        codex_cwd=str(codex_server.cwd),
    )
    bot = BotHarness(slack, codex_server, model_server, redis_url, settings)
    await codex_server.stop()  # nothing listens on ws:// now: the answer can only come via stdio
    await bot.start()
    try:
        event = await bot.mention("over stdio")
        await final_reply(slack, event["ts"], "echo: over stdio")
    finally:
        await bot.close()

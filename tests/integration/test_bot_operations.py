"""Operating the bot: probes, metrics, doctor, and secrets kept out of logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import aiohttp
import pytest

from bot.doctor import run_doctor
from bot.logs import JsonFormatter
from playground.slack.api import SlackFake
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import (
    BOT_TOKEN,
    SIGNING_SECRET,
    BotHarness,
    bot_settings,
    final_reply,
    seconds,
)
from tests.integration.conftest import StartBot
from tests.integration.reliability import eventually


async def _get(harness: BotHarness, path: str) -> tuple[int, str]:
    assert harness.service is not None
    url = f"http://127.0.0.1:{harness.service.port}{path}"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


def _sample(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{wanted}}}" if labels else name
    for line in metrics_text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_probes_answer_and_readiness_covers_redis_and_codex(
    harness: BotHarness, codex_server: CodexServer
) -> None:
    """/healthz is 200; /readyz is 200 with Redis and Codex up and 503 once Codex is gone."""
    assert (await _get(harness, "/healthz"))[0] == 200
    status, body = await _get(harness, "/readyz")
    assert status == 200, body
    await codex_server.kill()
    status, body = await _get(harness, "/readyz")
    assert status == 503
    assert '"codex": "unreachable"' in body


async def test_metrics_move_when_a_turn_runs(harness: BotHarness, slack: SlackFake) -> None:
    """Turns, deltas, Slack calls and first-edit latency are counted on /metrics."""
    _, before = await _get(harness, "/metrics")
    assert _sample(before, "codex_slack_turns_total", outcome="completed") == 0
    event = await harness.mention("DELTAS 6 count me")
    await final_reply(slack, event["ts"], "echo: DELTAS 6 count me")

    async def reply_counted() -> bool:  # counted just after the final, in the same task
        _, text = await _get(harness, "/metrics")
        ways = ("in_place", "posted")
        return any(
            _sample(text, "codex_slack_replies_total", delivery="edit", final=way) for way in ways
        )

    await eventually(reply_counted, what="the reply to be counted")
    _, after = await _get(harness, "/metrics")
    assert _sample(after, "codex_slack_turns_total", outcome="started") == 1
    assert _sample(after, "codex_slack_turns_total", outcome="completed") == 1
    assert _sample(after, "codex_slack_deltas_total") >= 6
    assert (
        _sample(after, "codex_slack_slack_api_calls_total", method="chat.postMessage", outcome="ok")
        >= 1
    )
    assert (
        _sample(after, "codex_slack_slack_api_calls_total", method="chat.update", outcome="ok") >= 1
    )
    assert _sample(after, "codex_slack_first_text_seconds_count") == 1
    finals = [
        _sample(after, "codex_slack_replies_total", delivery="edit", final=way)
        for way in ("in_place", "posted")
    ]
    assert sum(finals) == 1  # one reply, by edits; its final in place or posted anew
    assert _sample(after, "codex_slack_event_ack_seconds_count") >= 1
    assert _sample(after, "codex_slack_update_budget_per_minute") == 50


async def test_429s_are_counted(harness: BotHarness, slack: SlackFake) -> None:
    """Each 429 from Slack shows in the rate-limited counter and the calls by outcome."""
    slack.fail_next("chat.update", times=2, retry_after=seconds(1))
    event = await harness.mention("DELTAS 5 limited")
    await final_reply(slack, event["ts"], "echo: DELTAS 5 limited")
    # How many of the two forced 429s the bot met depends on its pacing (a final may go out
    # as a new post instead of a second edit); the counters must match what Slack served.
    served = sum(call["status"] == 429 for call in slack.calls_for("chat.update"))
    assert served >= 1
    _, text = await _get(harness, "/metrics")
    assert _sample(text, "codex_slack_slack_ratelimited_total", method="chat.update") == served
    assert (
        _sample(
            text, "codex_slack_slack_api_calls_total", method="chat.update", outcome="ratelimited"
        )
        == served
    )


_UNREADABLE = [
    (b'{"type": "event_callback", "event": ', "application/json"),
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    (b"\xff\xfe not utf-8", "application/x-www-form-urlencoded"),
    (b"[1, 2, 3]", "application/json"),
]


@pytest.mark.parametrize(
    ("signing", "expected"),
    [("unsigned", 401), ("forged", 401), ("signed", 400)],
)
async def test_an_unreadable_body_is_refused_with_one_warning(
    harness: BotHarness,
    slack: SlackFake,
    caplog: pytest.LogCaptureFixture,
    signing: str,
    expected: int,
) -> None:
    """A body that is not JSON or a form: 401 unless correctly signed, then 400; each time one
    warning and no traceback, and the bot calls nothing."""
    caplog.set_level(logging.DEBUG)
    calls = len(slack.calls)
    for body, content_type in _UNREADABLE:
        caplog.clear()
        if signing == "unsigned":
            headers = {"Content-Type": content_type}
            async with harness.http.post(harness.events_url, data=body, headers=headers) as r:
                status = r.status
        else:
            secret = SIGNING_SECRET if signing == "signed" else "not-the-signing-secret"
            status, _ = await harness.post_signed(body, content_type=content_type, secret=secret)
        assert status == expected, body
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [(r.name, r.levelno) for r in loud] == [("bot.app", logging.WARNING)], body
        assert all(r.exc_info is None for r in caplog.records), body
    assert len(slack.calls) == calls


async def test_doctor_reports_each_peer_and_names_what_is_wrong(
    slack: SlackFake, codex_server: CodexServer, redis_url: str
) -> None:
    """doctor passes against healthy peers, and names Redis and the fix when Redis is down."""
    out = io.StringIO()
    assert await run_doctor(bot_settings(slack, codex_server, redis_url), out) == 0
    assert out.getvalue().splitlines() == ["ok    slack", "ok    redis", "ok    codex"]
    out = io.StringIO()
    broken = bot_settings(slack, codex_server, "redis://127.0.0.1:1/0")
    assert await run_doctor(broken, out) == 1
    assert "FAIL  redis" in out.getvalue()
    assert "REDIS_URL" in out.getvalue()


async def test_doctor_names_the_scopes_the_app_lacks(
    slack: SlackFake, codex_server: CodexServer, redis_url: str
) -> None:
    """A token installed before files:read/files:write were added: doctor lists them."""
    slack.scopes = tuple(s for s in slack.scopes if s not in ("files:read", "files:write"))
    out = io.StringIO()
    assert await run_doctor(bot_settings(slack, codex_server, redis_url), out) == 1
    line = next(line for line in out.getvalue().splitlines() if line.startswith("FAIL  slack"))
    assert "files:read, files:write" in line
    assert "reinstall" in line


async def test_no_secret_reaches_the_logs(
    harness: BotHarness, slack: SlackFake, caplog: pytest.LogCaptureFixture
) -> None:
    """A full turn at DEBUG level logs neither the bot token nor the signing secret."""
    caplog.set_level(logging.DEBUG)
    event = await harness.mention("secret check")
    await final_reply(slack, event["ts"], "echo: secret check")
    logged = caplog.text
    assert BOT_TOKEN not in logged
    assert SIGNING_SECRET not in logged


async def test_turn_logs_carry_the_slack_and_codex_ids(
    harness: BotHarness, slack: SlackFake, caplog: pytest.LogCaptureFixture
) -> None:
    """The turn's log lines name its team, channel, Slack thread, Codex thread and turn."""
    caplog.set_level(logging.INFO, logger="bot.turns")
    event = await harness.mention("log my ids")
    await final_reply(slack, event["ts"], "echo: log my ids")
    finished = [r for r in caplog.records if r.getMessage() == "turn finished"]
    assert len(finished) == 1
    ids = vars(finished[0])
    assert (ids["team"], ids["channel"], ids["thread_ts"]) == ("T0001", "C0001", event["ts"])
    assert ids["codex_thread"]
    assert ids["turn"]
    line = json.loads(JsonFormatter().format(finished[0]))
    assert line["thread_ts"] == event["ts"]
    assert line["turn"] == ids["turn"]


async def test_concurrent_first_events_cost_no_auth_test_and_bolt_warns_nothing(
    start_bot: StartBot, slack: SlackFake, caplog: pytest.LogCaptureFixture
) -> None:
    """The process's one auth.test (at start) authorizes every request: ten mentions arriving
    together make no further auth.test, and Bolt logs no warning, at start or after."""
    caplog.set_level(logging.WARNING, logger="slack_bolt")
    harness = await start_bot()
    before = len(slack.calls_for("auth.test"))
    assert before == 1
    events = await asyncio.gather(*(harness.mention(f"together {n}") for n in range(10)))
    for n, event in enumerate(events):
        await final_reply(slack, event["ts"], f"echo: together {n}")
    assert len(slack.calls_for("auth.test")) == before
    assert not [r for r in caplog.records if r.name.startswith("slack_bolt")]

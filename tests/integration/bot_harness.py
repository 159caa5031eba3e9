"""The whole bot wired to its real and fake peers, for end-to-end tests.

:class:`BotHarness` runs :class:`bot.service.Service` (the same wiring ``codex-slack serve``
uses) in HTTP mode on port 0 against the Slack fake, a real Redis, and the real Codex
app-server driven by the scripted model. Tests talk to it the way Slack does: signed HTTP
POSTs to ``/slack/events``, with the helpers of :class:`SlackRequests` (which
:class:`tests.integration.bot_process.BotProcess`, the bot as a child process, shares).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.config import Settings
from bot.service import Service
from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake, sign_request
from tests.fakes.codex_server import CodexServer

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-bot-token"
APP_TOKEN = "xapp-e2e-app-token"
TEAM = "T0001"
CHANNEL = "C0001"
USER = "U0001"

_event_ids = itertools.count(1)


TIME_UNIT = float(os.environ.get("CODEX_SLACK_TEST_TIME_UNIT", "0.1"))
"""What one second of the bot's pacing takes in these tests: the edit interval, Retry-Afters and
heartbeats the tests set are multiples of it. Set CODEX_SLACK_TEST_TIME_UNIT=1 to run the suite
at production pace (a slow machine that flakes at 0.1 is a finding, not a reason to sleep)."""


def seconds(production_seconds: float) -> float:
    """``production_seconds`` of bot pacing, in test time (see :data:`TIME_UNIT`)."""
    return production_seconds * TIME_UNIT


TIMING: dict[str, float] = {
    "slack_min_edit_interval_seconds": seconds(1),
    "replica_heartbeat_seconds": seconds(10),
    "codex_request_timeout": 5.0,
}
"""The bot's timing settings in tests; a test passes its own to change them."""

EDIT_DELIVERY: dict[str, str | float | bool] = {
    "slack_delivery": "edit",
    "slack_first_post_seconds": 0.0,
    "slack_thread_status": False,
}
"""How the suite's replies stream unless a test says otherwise: a placeholder posted at once
and edited (the tests of Stop buttons, takeovers and faults were written for it). The native
streams, the status and the deferred first post have their own tests (test_bot_delivery)."""


def bot_settings(slack: SlackFake, codex: CodexServer, redis_url: str, **extra: Any) -> Settings:
    """Settings pointing the bot at the test peers (no environment or .env file is read)."""
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_app_token": None,
        "slack_api_url": slack.url,
        "codex_url": codex.url,
        "codex_auth": "none",
        "redis_url": redis_url,
        "host": "127.0.0.1",
        **TIMING,
        **EDIT_DELIVERY,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)


class SlackRequests:
    """Signed requests to a bot's ``/slack/events``, as Slack sends them; a mixin for whatever
    runs the bot, which provides :attr:`slack`, :attr:`http` and :attr:`events_url`."""

    slack: SlackFake
    http: aiohttp.ClientSession

    @property
    def events_url(self) -> str:
        raise NotImplementedError

    async def post_signed(
        self,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
    ) -> tuple[int, str]:
        """POST ``body`` as Slack would, signed with ``secret`` at ``timestamp`` (default now)."""
        signed = sign_request(body, secret, int(time.time()) if timestamp is None else timestamp)
        all_headers = {"Content-Type": content_type, **signed, **(headers or {})}
        async with self.http.post(self.events_url, data=body, headers=all_headers) as response:
            return response.status, await response.text()

    async def mention(
        self,
        text: str,
        *,
        thread_ts: str | None = None,
        user: str = USER,
        channel: str = CHANNEL,
        event_id: str | None = None,
        retry_num: int | None = None,
        ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Deliver an ``app_mention`` of the bot (with ``files`` attached, as Slack puts
        them in the event); returns the event as sent."""
        ts = ts or self.slack.next_ts()
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{self.slack.bot_user_id}> {text}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        if files:
            event["files"] = files
        payload = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_event_ids):08d}",
            "event_time": int(time.time()),
            "event": event,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        status, body = await self.post_signed(json.dumps(payload).encode(), headers=headers)
        assert status == 200, (status, body)
        return {**event, "event_id": payload["event_id"]}

    async def slash_command(
        self, command: str, text: str, *, user: str = USER, channel: str = CHANNEL
    ) -> tuple[int, str]:
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "channel_id": channel,
            "user_id": user,
            "command": command,
            "text": text,
            "response_url": self.slack.response_url(),
            "trigger_id": f"trigger-{next(_event_ids)}",
        }
        return await self.post_signed(
            urlencode(form).encode(), content_type="application/x-www-form-urlencoded"
        )

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post_signed(body, content_type="application/x-www-form-urlencoded")


@dataclass
class BotHarness(SlackRequests):
    """A running bot plus the handles tests use to drive and observe it."""

    slack: SlackFake
    codex: CodexServer
    model: ModelServer
    redis_url: str
    settings: Settings
    service: Service | None = None
    http: aiohttp.ClientSession = field(init=False)

    async def start(self) -> None:
        self.service = Service(self.settings)
        await self.service.start(socket_mode=False, port=0)
        self.http = aiohttp.ClientSession()

    async def restart(self) -> None:
        """Stop this bot process and start a fresh one on the same peers (a redeploy)."""
        assert self.service is not None
        await self.service.close()
        self.service = Service(self.settings)
        await self.service.start(socket_mode=False, port=0)

    async def close(self) -> None:
        await self.http.close()
        if self.service is not None:
            await self.service.close()

    @property
    def events_url(self) -> str:
        assert self.service is not None
        return f"http://127.0.0.1:{self.service.port}/slack/events"


# -- reading the bot's replies --------------------------------------------------------


def reply_text(message: dict[str, Any]) -> str:
    """What a bot reply shows: its markdown block text (its ``text`` is only the fallback)."""
    blocks = message.get("blocks") or []
    texts = [b["text"] for b in blocks if b.get("type") == "markdown"]
    return "".join(texts) if texts else str(message.get("text", ""))


def has_stop_button(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in message.get("blocks") or [])


def bot_replies(slack: SlackFake, thread_ts: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages(CHANNEL)
        if m.get("thread_ts") == thread_ts and m.get("user") == slack.bot_user_id
    ]


async def final_reply(slack: SlackFake, thread_ts: str, expected: str) -> list[dict[str, Any]]:
    """Wait until the bot's replies in the thread read ``expected`` with no Stop button."""

    def done() -> bool:
        replies = [r for r in bot_replies(slack, thread_ts) if not _is_notice(r)]
        return (
            bool(replies)
            and "".join(reply_text(r) for r in replies) == expected
            and not any(has_stop_button(r) for r in replies)
            and not any(r.get("streaming") for r in replies)  # an open stream is not an end
        )

    await slack.wait_for(done, timeout=30)
    return [r for r in bot_replies(slack, thread_ts) if not _is_notice(r)]


def _is_notice(message: dict[str, Any]) -> bool:
    return not message.get("blocks")

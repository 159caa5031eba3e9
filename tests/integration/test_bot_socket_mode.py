"""End to end over Socket Mode: Slack delivers envelopes on a WebSocket the bot opened.

The bot runs :class:`bot.service.Service` with ``socket_mode=True`` (an ``xapp-`` token, no
signing secret) against the Slack fake, which answers ``apps.connections.open`` with its own
``ws://`` URL; real Redis and the real Codex app-server with the scripted model, as in
:mod:`tests.integration.test_bot_mentions`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.service import Service
from playground.model.scripted import ModelServer
from playground.slack.api import (
    SlackFake,
    app_mention_event,
    event_callback,
    slash_command_form,
)
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import APP_TOKEN, CHANNEL, TEAM, USER, bot_settings, final_reply


@pytest.fixture
async def service(
    slack: SlackFake, codex_server: CodexServer, model_server: ModelServer, redis_url: str
) -> AsyncIterator[Service]:
    settings = bot_settings(
        slack, codex_server, redis_url, slack_app_token=APP_TOKEN, slack_signing_secret=None
    )
    bot = Service(settings)
    await bot.start(socket_mode=True, port=0)
    try:
        yield bot
    finally:
        await bot.close()


def mention_payload(text: str, slack: SlackFake) -> tuple[dict[str, Any], str]:
    """An ``event_callback`` carrying a top-level ``app_mention`` of the bot, and its ``ts``."""
    event = app_mention_event(
        f"<@{slack.bot_user_id}> {text}", user=USER, channel=CHANNEL, team=TEAM
    )
    return event_callback(event, team_id=TEAM), str(event["ts"])


async def test_a_mention_envelope_is_acked_and_answered_with_the_exact_text(
    service: Service, slack: SlackFake
) -> None:
    """An events_api envelope is acked by its envelope_id and the mention gets the exact text."""
    assert slack.calls_for("apps.connections.open"), "the bot opened its connection itself"
    payload, thread_ts = mention_payload("hello over the socket", slack)
    envelope_id = await slack.socket_send_envelope("events_api", payload)
    assert await slack.wait_for_ack(envelope_id) == {}
    replies = await final_reply(slack, thread_ts, "echo: hello over the socket")
    assert len(replies) == 1
    assert slack.calls_for("chat.update"), "the answer arrives as edits of the placeholder"


async def test_a_slash_command_envelope_is_acked(service: Service, slack: SlackFake) -> None:
    """A slash_commands envelope (/recap) is acked by its envelope_id within Slack's deadline."""
    form = slash_command_form(
        "/recap", "", user_id=USER, channel_id=CHANNEL, response_url=slack.response_url()
    )
    envelope_id = await slack.socket_send_envelope("slash_commands", form)
    await slack.wait_for_ack(envelope_id, timeout=3)  # Slack's acknowledgement deadline


async def test_the_bot_reconnects_when_slack_asks_and_keeps_answering(
    service: Service, slack: SlackFake
) -> None:
    """After Slack's ``disconnect`` (refresh), the bot opens a new connection and still answers."""
    await slack.socket_disconnect()
    # A second connection accepted, the first one gone: envelopes now go to the new one.
    await slack.wait_for(lambda: slack.socket_connects == 2 and slack.socket_connections == 1)
    assert len(slack.calls_for("apps.connections.open")) == 2
    payload, thread_ts = mention_payload("after the refresh", slack)
    envelope_id = await slack.socket_send_envelope("events_api", payload)
    await slack.wait_for_ack(envelope_id)
    await final_reply(slack, thread_ts, "echo: after the refresh")


async def test_the_probes_are_served_in_socket_mode(service: Service) -> None:
    """Socket Mode still serves /healthz and /readyz on the HTTP port, but no /slack/events."""
    base = f"http://127.0.0.1:{service.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as health:
            assert health.status == 200
        async with http.get(f"{base}/readyz") as ready:
            checks = await ready.json()
            assert ready.status == 200
            assert set(checks.values()) == {"ok"}
        async with http.post(f"{base}/slack/events", data=b"{}") as events:
            assert events.status == 404

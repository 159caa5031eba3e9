"""The Bolt app and the HTTP surface: thin listeners that acknowledge at once and hand off.

Listeners parse just enough to call the bridge (:mod:`bot.bridge`, :mod:`bot.commands`) and
return, so Slack's 3-second acknowledgement deadline never depends on Codex or Redis. The
work itself runs in background tasks the bridge owns.

The HTTP server serves Slack's events, slash commands and interactivity all on
``POST /slack/events`` (signatures checked by Bolt: a forged or stale request gets 401), plus
``/healthz``, ``/readyz`` and ``/metrics``. In Socket Mode the same server runs for the probes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp

from bot.bridge import Bridge
from bot.commands import Commands
from bot.metrics import CONTENT_TYPE_LATEST, Metrics

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[None]]
ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]
Listener = Callable[[Ack, dict[str, Any]], Awaitable[None]]


def register_listeners(app: AsyncApp, bridge: Bridge, commands: Commands) -> None:
    """Wire every Slack event, command, action and shortcut the bot answers to."""

    async def on_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
        bridge.spawn(
            bridge.on_message_event(
                event, event_id=str(body.get("event_id", "")), team=str(body.get("team_id", ""))
            )
        )

    app.event("app_mention")(on_mention)
    # `message` fires beside `app_mention` for the same post; the bridge dedupes the pair.
    app.event("message")(on_mention)

    def ack_then(work: Callable[[dict[str, Any]], Awaitable[None]]) -> Listener:
        """A listener that acknowledges at once and runs ``work(body)`` in the background.

        For a slash command Bolt's ``body`` is the command itself; for actions, shortcuts and
        view submissions it is the interaction payload.
        """

        async def listener(ack: Ack, body: dict[str, Any]) -> None:
            await ack()
            bridge.spawn(work(body))

        return listener

    app.command("/steer")(ack_then(commands.steer_command))
    app.command("/recap")(ack_then(commands.recap_command))
    for action_id in commands.ACTION_IDS:
        app.action(action_id)(ack_then(commands.action))
    app.shortcut("steer_codex")(ack_then(commands.steer_shortcut))
    app.shortcut("recap_thread")(ack_then(commands.recap_shortcut))
    app.view("steer_codex_modal")(ack_then(commands.steer_submitted))


def build_web_app(
    bolt: AsyncApp | None, metrics: Metrics, readiness: ReadinessCheck
) -> web.Application:
    """The aiohttp application: Slack's endpoint (HTTP mode only) and the probes."""
    web_app = web.Application(client_max_size=1024 * 1024)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = await readiness()
        ready = all(value == "ok" for value in checks.values())
        return web.json_response(checks, status=200 if ready else 503)

    async def metrics_endpoint(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics_endpoint)

    if bolt is not None:

        async def slack_events(request: web.Request) -> web.Response:
            started = time.monotonic()
            bolt_request = await to_bolt_request(request)
            bolt_response = await bolt.async_dispatch(bolt_request)
            if bolt_response.status == 404:
                # Nothing listens for this payload (an event type we don't use, or garbage
                # that passed the signature check). Acknowledge it so Slack stops retrying.
                log.info(
                    "acknowledged an unhandled Slack request: %s", _describe(bolt_request.body)
                )
                response = web.Response(status=200, text="")
            else:
                response = await to_aiohttp_response(bolt_response)
            metrics.event_ack_seconds.observe(time.monotonic() - started)
            return response

        web_app.router.add_post("/slack/events", slack_events)
    return web_app


def _describe(body: dict[str, Any]) -> str:
    """A log-safe summary of a payload: its kinds, never its text or tokens."""
    event = body.get("event")
    kinds = {
        "type": body.get("type"),
        "event": event.get("type") if isinstance(event, dict) else None,
        "command": body.get("command"),
    }
    return json.dumps({k: v for k, v in kinds.items() if v})

"""The Bolt app and the HTTP surface: thin listeners that acknowledge at once and hand off.

Listeners parse just enough to call the bridge (:mod:`bot.bridge`, :mod:`bot.commands`) and
return, so Slack's 3-second acknowledgement deadline never depends on Codex or Redis. The
work itself runs in background tasks the bridge owns.

The HTTP server serves Slack's events, slash commands and interactivity all on
``POST /slack/events``, plus ``/healthz``, ``/readyz`` and ``/metrics``. In Socket Mode the same
server runs for the probes. A request's signature is checked on its raw bytes before anything
reads them: an unsigned, forged or stale request gets 401, a signed one whose body is neither
JSON nor a form gets 400; each is one warning line, and nothing else happens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import render
from bot.commands import Commands
from bot.intake import MentionIntake
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[None]]
ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]
Listener = Callable[[Ack, dict[str, Any]], Awaitable[None]]

SIGNATURE_MAX_AGE = 5 * 60
"""Seconds a signed request stays acceptable (Slack's own rule against replays)."""


def register_listeners(
    app: AsyncApp, intake: MentionIntake, commands: Commands, tasks: BackgroundTasks
) -> None:
    """Wire every Slack event, command, action and shortcut the bot answers to."""

    async def on_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
        tasks.spawn(
            intake.on_message_event(
                event, event_id=str(body.get("event_id", "")), team=str(body.get("team_id", ""))
            )
        )

    app.event("app_mention")(on_mention)
    # `message` fires beside `app_mention` for the same post; the intake dedupes the pair.
    app.event("message")(on_mention)

    def ack_then(work: Callable[[dict[str, Any]], Coroutine[Any, Any, None]]) -> Listener:
        """A listener that acknowledges at once and runs ``work(body)`` in the background.

        For a slash command Bolt's ``body`` is the command itself; for actions, shortcuts and
        view submissions it is the interaction payload.
        """

        async def listener(ack: Ack, body: dict[str, Any]) -> None:
            await ack()
            tasks.spawn(work(body))

        return listener

    app.command("/steer")(ack_then(commands.steer_command))
    app.command("/recap")(ack_then(commands.recap_command))
    app.action(render.ACTION_STOP)(ack_then(commands.stop_clicked))
    app.action(render.ACTION_RERUN)(ack_then(commands.rerun_clicked))
    app.action(render.ACTION_RECAP_OLDER)(ack_then(commands.recap_older_clicked))
    app.action(render.ACTION_RECAP_SHARE)(ack_then(commands.recap_share_clicked))
    approvals = "|".join(map(re.escape, render.ACTION_APPROVAL))
    app.action(re.compile(f"^(?:{approvals})$"))(ack_then(commands.approval_clicked))
    questions = "|".join(map(re.escape, render.ACTION_QUESTION))
    app.action(re.compile(f"^(?:{questions})$"))(ack_then(commands.question_clicked))
    app.action(render.ACTION_QUESTION_MODAL)(ack_then(commands.question_modal_clicked))

    async def on_question_answered(ack: Ack, body: dict[str, Any]) -> None:
        # Missing answers are shown on the modal itself, which then stays open.
        errors = commands.question_view_errors(body)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        tasks.spawn(commands.question_submitted(body))

    app.view(render.QUESTION_MODAL)(on_question_answered)
    app.shortcut("steer_codex")(ack_then(commands.steer_shortcut))
    app.shortcut("recap_thread")(ack_then(commands.recap_shortcut))
    app.view("steer_codex_modal")(ack_then(commands.steer_submitted))


def build_web_app(
    bolt: AsyncApp | None,
    metrics: Metrics,
    readiness: ReadinessCheck,
    *,
    signing_secret: str | None = None,
    tasks: BackgroundTasks | None = None,
) -> web.Application:
    """The aiohttp application: Slack's endpoint (HTTP mode only: ``bolt`` given, requests
    signed with ``signing_secret``) and the probes."""
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
        owner = tasks if tasks is not None else BackgroundTasks("slack-events")
        web_app.router.add_post(
            "/slack/events", _slack_endpoint(bolt, signing_secret, metrics, owner)
        )
    return web_app


def _slack_endpoint(
    bolt: AsyncApp, signing_secret: str | None, metrics: Metrics, tasks: BackgroundTasks
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /slack/events``: the signature checked on the raw body, then Bolt."""
    secret = signing_secret.encode() if signing_secret and signing_secret.strip() else None
    if secret is None:
        log.error("no signing secret: every request to /slack/events will be refused")

    async def dispatch_event(bolt_request: AsyncBoltRequest) -> None:
        try:
            await bolt.async_dispatch(bolt_request)
        except Exception:
            log.exception("an event failed in Bolt: %s", _describe(bolt_request.body))

    async def slack_events(request: web.Request) -> web.Response:
        started = time.monotonic()
        raw = await request.read()
        if not _signed(secret, raw, request):
            log.warning(
                "refused a request to /slack/events from %s: missing, stale or wrong signature",
                request.remote,
            )
            return web.Response(status=401, text="invalid signature")
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers=dict(request.headers),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            # What Bolt's parsing raises for bytes that are not UTF-8 (ValueError), not
            # JSON (ValueError) or JSON but not an object (AttributeError, TypeError).
            log.warning(
                "refused a signed request to /slack/events: its %d-byte body is neither "
                "a JSON object nor a form (%s)",
                len(raw),
                type(exc).__name__,
            )
            return web.Response(status=400, text="unreadable body")
        if _is_event_callback(bolt_request.body):
            # An event needs nothing but a 200: answer before Bolt's middleware and listener
            # run, so a burst of mentions is acknowledged in well under Slack's 3 s, however
            # busy the process is with the turns already running.
            # Owned by the service's tasks, so a close cancels a dispatch still in flight
            # rather than leaving it (and its Redis connection) to a closed loop.
            tasks.spawn(dispatch_event(bolt_request), name="slack-event")
            metrics.event_ack_seconds.observe(time.monotonic() - started)
            return web.Response(status=200, text="")
        bolt_response = await bolt.async_dispatch(bolt_request)
        if bolt_response.status == 404:
            # Nothing listens for this payload (an event type we don't use, or garbage
            # that passed the signature check). Acknowledge it so Slack stops retrying.
            log.info("acknowledged an unhandled Slack request: %s", _describe(bolt_request.body))
            response = web.Response(status=200, text="")
        else:
            response = await to_aiohttp_response(bolt_response)
        metrics.event_ack_seconds.observe(time.monotonic() - started)
        return response

    return slack_events


def _signed(secret: bytes | None, body: bytes, request: web.Request) -> bool:
    """Whether ``body`` carries a valid v0 signature made in the last five minutes.

    ``X-Slack-Signature`` is ``v0=`` + hex HMAC-SHA256 of ``v0:<timestamp>:<body>`` keyed by the
    signing secret. Computed on the raw bytes here (slack-sdk's verifier decodes the body as
    UTF-8 first, and raises on bytes that are not).
    """
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if secret is None or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    basestring = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, basestring, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def _is_event_callback(body: object) -> bool:
    return isinstance(body, dict) and body.get("type") == "event_callback"


def _describe(body: dict[str, Any]) -> str:
    """A log-safe summary of a payload: its kinds, never its text or tokens."""
    event = body.get("event")
    kinds = {
        "type": body.get("type"),
        "event": event.get("type") if isinstance(event, dict) else None,
        "command": body.get("command"),
    }
    return json.dumps({k: v for k, v in kinds.items() if v})

"""A recording fake of Slack's Web API and Socket Mode, served on 127.0.0.1 port 0.

``async with SlackFake() as fake:`` starts an aiohttp server in the running event loop;
``AsyncWebClient(token=..., base_url=fake.url)`` talks to it like to Slack:

- ``POST``/``GET /api/<method>`` with query, form or JSON parameters; the token comes from
  ``Authorization: Bearer`` (or a ``token`` parameter). Missing -> ``not_authed``; unknown ->
  ``invalid_auth``; an ``xapp-`` token on a bot method, or a bot token on
  ``apps.connections.open`` -> ``not_allowed_token_type``. With no ``bot_token`` given, any
  ``xoxb-`` token is accepted (likewise ``app_token`` and ``xapp-``).
- Answers ``{"ok": true, ...}`` with increasing ``ts`` values, or Slack's ``ok:false`` errors
  (see :mod:`playground.slack.rules` for content limits); rate limits answer HTTP 429 with
  ``Retry-After``. :meth:`SlackFake.fail_next` forces 429s or any error on demand.
- Fault windows (:meth:`SlackFake.fault`): until the test ends the window or its seconds pass
  on the fake's clock, calls of the chosen methods fail the way Slack's edge fails:
  ``http500`` answers HTTP 500 (or another 5xx) with Slack's HTML "Server Error" page (or
  ``ok:false`` JSON, or an Envoy proxy's plain text); ``hang`` holds the request unanswered
  until the window ends, then serves it normally (nothing is applied if the client gave up);
  ``drop`` reads the request and closes the connection without an answer (``apply_then_drop``
  serves it first, so the call takes effect unbeknown to the client). Otherwise a faulted call
  never changes the workspace; it is recorded with a ``fault`` key (see :meth:`SlackFake.faulted`).
- AI streaming: ``chat.startStream`` posts a bot message in a thread marked ``streaming``
  whose ``text`` (and a ``markdown`` block) is the markdown streamed so far, with
  ``task_update``/``plan_update`` chunks kept as ``tasks`` and ``plan_title``;
  ``chat.appendStream`` adds to it and ``chat.stopStream`` ends it (final ``blocks`` go below
  the markdown). Slack's errors: recipients required outside DMs
  (``missing_recipient_user_id``/``missing_recipient_team_id``), 12,000 characters of markdown
  (``msg_too_long``), ``invalid_chunks``, ``message_not_in_streaming_state`` once closed,
  ``streaming_state_conflict`` for ``chat.update`` and ``cant_delete_message`` while open. A
  stream closes by itself (``stream_expired``) when open longer than ``stream_max_seconds`` or
  idle ``stream_idle_seconds``, on the fake's clock; :meth:`SlackFake.stop_stream_by_user`
  presses Stop (``stopped_by_user`` from then on); ``streaming_error`` makes every start fail
  (a workspace without the feature).
- ``assistant.threads.setStatus`` sets a thread's status ("" clears it), and any bot message
  posted in the thread clears it as Slack does: :meth:`SlackFake.status`,
  :meth:`SlackFake.status_history`.
- OAuth scopes: the bot token has ``scopes`` (default :data:`DEFAULT_SCOPES`, what this bot is
  installed with). Every answer to a valid bot token carries them in ``X-OAuth-Scopes`` (and
  the method's in ``X-Accepted-OAuth-Scopes``), as Slack's do; a method needing a scope the
  token lacks answers ``missing_scope`` with ``needed`` and ``provided`` (see
  :data:`playground.slack.rules.METHOD_SCOPES`).
- Files: :meth:`SlackFake.add_file` stores a user's file and returns its file object, to put
  in seeded messages (``add_message(files=...)``) and events. ``GET`` on its ``url_private``
  (``/files-pri/<team>-<id>/<name>``) or ``url_private_download`` (``.../download/<name>``)
  answers the bytes with the file's ``Content-Type`` only with ``Authorization: Bearer`` and a
  valid bot token that has ``files:read``; otherwise, like Slack, HTTP 200 with an HTML sign-in
  page, so a client must check what it got. Each is recorded in :attr:`SlackFake.downloads`.
  ``files.info`` answers a file (with where it was shared) or ``file_not_found``.
- Uploads, as slack-sdk's ``files_upload_v2`` makes them: ``files.getUploadURLExternal``
  (``filename``, ``length`` >= 1, else ``invalid_arguments``) gives an ``upload_url`` here
  (``/upload/v1/<key>``) and a ``file_id``; a ``POST`` of the bytes there (raw, or multipart
  with one part) answers ``200 OK - <length>`` as Slack does; ``files.completeUploadExternal``
  makes the files and, given ``channel_id`` (and ``thread_ts``) or ``channels``, shares them
  as a bot message with ``files`` and ``text`` = ``initial_comment``. All recorded in
  :attr:`SlackFake.uploads`; both methods need ``files:write``.
- ``POST /response/<id>`` records what an app posts to a ``response_url``.
- Socket Mode: ``apps.connections.open`` returns a ``ws://`` URL here; the fake sends ``hello``,
  then delivers envelopes with :meth:`SlackFake.socket_send_envelope` and records the acks.

Everything is recorded as plain JSON-able dicts: :attr:`SlackFake.calls`,
:meth:`SlackFake.messages` (the current state of each message after every edit),
:meth:`SlackFake.calls_for`. :meth:`SlackFake.wait_for` waits on a condition that is notified
at every call, ack and connection, so tests never poll; :meth:`SlackFake.add_listener` is told
at the same moments (the playground's page follows the workspace that way).

Simplifications, on purpose: channels are any well-formed id (``C``/``G``/``D``) unless
``channels=`` lists them; users are synthesised for any well-formed id; ``chat.getPermalink``
answers for any ``ts`` (the fake cannot know users' messages unless :meth:`add_message` seeded
them). Only the bot's own messages can be updated or deleted, as in Slack.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

from playground.slack.payloads import (
    APP_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    app_mention_event,
    block_actions_payload,
    event_callback,
    form_body,
    interactive_body,
    message_action_payload,
    message_event,
    next_ts,
    sign_request,
    slash_command_form,
    view_submission_payload,
)
from playground.slack.rules import (
    DEFAULT_RATE_LIMITS,
    DEFAULT_SCOPES,
    FaultBody,
    FaultMode,
    FaultWindow,
    RateLimit,
    RateLimiter,
    accepted_scopes,
    scope_error,
)
from playground.slack.workspace import Handler, SlackApiErrorResponse, Workspace

__all__ = [
    "DEFAULT_SCOPES",
    "FaultBody",
    "FaultMode",
    "FaultWindow",
    "RateLimit",
    "SlackFake",
    "app_mention_event",
    "block_actions_payload",
    "event_callback",
    "form_body",
    "interactive_body",
    "message_action_payload",
    "message_event",
    "next_ts",
    "sign_request",
    "slash_command_form",
    "view_submission_payload",
]

T = TypeVar("T")

_JSON_PARAMS = ("blocks", "attachments", "view", "metadata", "chunks", "loading_messages")
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

SERVER_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Server Error | Slack</title>
    <meta name="author" content="Slack">
  </head>
  <body></body>
</html>
"""
"""What Slack's edge answered with HTTP 500 while its API was down (as reported in
slack-ruby-client#359); ``fault(body="html")`` sends it as ``text/html``."""
ENVOY_ERROR_TEXT = (
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
)
"""The ``text/plain`` body an Envoy proxy sends when it cannot reach the service behind it."""
SIGN_IN_PAGE = """<!DOCTYPE html>
<html lang="en-US">
  <head>
    <meta charset="utf-8">
    <title>Sign in | Slack</title>
  </head>
  <body>
    <h1>Sign in to your workspace</h1>
    <form action="/signin" method="post"><input type="email" name="email"></form>
  </body>
</html>
"""
"""What a file URL answers (HTTP 200, ``text/html``) to a request without a valid bot token
with ``files:read``: Slack sends its sign-in page rather than an error status."""


@dataclass
class _Failure:
    error: str
    times: int
    retry_after: float
    status: int


class SlackFake:
    """The fake Slack; see the module docstring. Attributes are safe to read from tests."""

    def __init__(
        self,
        *,
        bot_token: str | None = None,
        app_token: str | None = None,
        team_id: str = TEAM_ID,
        bot_user_id: str = "U0BOT0001",
        bot_id: str = "B0001",
        rate_limits: Mapping[str, RateLimit] | None = None,
        channels: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        streaming_error: str | None = None,
        stream_max_seconds: float = 300.0,
        stream_idle_seconds: float = 30.0,
        scopes: Iterable[str] | None = None,
    ) -> None:
        self.bot_token, self.app_token = bot_token, app_token
        self.scopes: tuple[str, ...] = tuple(DEFAULT_SCOPES if scopes is None else scopes)
        """The bot token's OAuth scopes, in the order Slack lists them; settable (a test may
        reinstall the app with other scopes while the fake runs)."""
        self.team_id, self.bot_user_id, self.bot_id = team_id, bot_user_id, bot_id
        self.workspace = Workspace(
            team_id=team_id,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            channels=channels,
            clock=clock,
            streaming_error=streaming_error,
            stream_max_seconds=stream_max_seconds,
            stream_idle_seconds=stream_idle_seconds,
        )
        self.limiter = RateLimiter(
            DEFAULT_RATE_LIMITS if rate_limits is None else rate_limits, clock
        )
        self._clock = clock
        self.calls: list[dict[str, Any]] = []
        self.response_posts: dict[str, list[dict[str, Any]]] = {}
        self.envelopes: list[dict[str, Any]] = []
        self.downloads: list[dict[str, Any]] = []
        """Every ``GET`` of a file URL: ``file_id``, ``download`` (``url_private_download`` or
        not), ``authorized`` (the bytes were served), ``error`` (why not: ``not_authed``,
        ``invalid_auth``, ``not_allowed_token_type``, ``missing_scope``, ``file_not_found``)
        and the HTTP ``status``."""
        self.acks: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._faults: list[FaultWindow] = []
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self.socket_connects = 0
        """Socket Mode connections ever accepted (a reconnect makes it grow)."""
        self._changed = asyncio.Condition()
        self._listeners: list[Callable[[], None]] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._handlers: dict[str, Handler] = {
            **self.workspace.methods,
            "api.test": lambda params: {"ok": True, "args": params},
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
        }

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> SlackFake:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_get("/files-pri/{key}/{name}", self._file_view)
        app.router.add_get("/files-pri/{key}/download/{name}", self._file_download)
        app.router.add_post("/upload/v1/{key}", self._upload)
        app.router.add_get("/link/", self._socket_mode)
        # handler_cancellation: a held (``hang``) call the client gives up on is not answered.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.workspace.file_host = f"http://127.0.0.1:{self.port}"
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for window in self._faults:
            window.end()  # held requests are answered rather than cut off by the shutdown
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The Web API base URL, ending in ``/api/`` (slack-sdk's ``base_url``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    # -- test controls ----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        times: int = 1,
        error: str = "ratelimited",
        retry_after: float = 1,
        status: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``error`` instead of serving them.

        ``ratelimited`` is HTTP 429 with ``Retry-After: retry_after`` (Slack sends whole
        seconds; tests may send a fraction, so they wait a test's time unit, not a second); any
        other error is an ``ok:false`` body with HTTP ``status`` (default 200, as Slack does).
        """
        code = status if status is not None else (429 if error == "ratelimited" else 200)
        self._failures.setdefault(method, []).append(_Failure(error, times, retry_after, code))

    def fault(
        self,
        methods: str | Iterable[str] | None,
        mode: FaultMode = "http500",
        *,
        seconds: float | None = None,
        status: int = 500,
        body: FaultBody = "html",
    ) -> FaultWindow:
        """Fail every call of ``methods`` (one name, several, or None for all) with ``mode``
        until the returned window's ``end()``, the end of its ``with`` block, or until
        ``seconds`` pass on the fake's clock. See the module docstring for the modes;
        ``status`` (any 5xx) and ``body`` (``html``, ``json`` or ``text``) shape ``http500``.

        Windows take precedence over :meth:`fail_next`, rate limits and token checks (the
        edge fails before Slack's API sees the call); when several cover a call, the oldest
        open one applies.
        """
        names = [methods] if isinstance(methods, str) else methods
        window = FaultWindow(
            names, mode, status=status, body=body, seconds=seconds, clock=self._clock
        )
        self._faults.append(window)
        return window

    def faulted(self, method: str | None = None) -> list[dict[str, Any]]:
        """Recorded calls that a fault window failed (of ``method`` only, if given)."""
        return [
            call
            for call in self.calls
            if call.get("fault") and (method is None or call["method"] == method)
        ]

    def next_ts(self) -> str:
        """A fresh ``ts`` (for user messages a test invents); never collides with the fake's."""
        return next_ts()

    def response_url(self) -> str:
        """A new ``response_url`` whose posts are recorded in :attr:`response_posts`."""
        key = f"R{next(self._ids):06d}"
        self.response_posts[key] = []
        return f"http://127.0.0.1:{self.port}/response/{key}"

    def responses(self, url: str) -> list[dict[str, Any]]:
        """The JSON bodies posted to one ``response_url``, in order."""
        return self.response_posts.get(url.rstrip("/").rsplit("/", 1)[-1], [])

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Seed a user's message (for ``conversations.replies`` and permalinks), carrying
        ``files`` (objects from :meth:`add_file`) if given."""
        return self.workspace.add_message(
            channel, text, user=user, ts=ts, thread_ts=thread_ts, files=files
        )

    def add_file(
        self,
        name: str,
        content: bytes,
        *,
        mimetype: str,
        filetype: str | None = None,
        user: str = "U0001",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Store a file ``user`` uploaded; returns its file object as Slack puts it in message
        events and ``conversations.replies`` (``url_private`` and ``url_private_download`` are
        served by this fake, so call this once it runs; ``filetype`` defaults to the
        extension's, e.g. ``text`` for ``.txt``, else ``binary``)."""
        return self.workspace.add_file(
            name, content, mimetype=mimetype, filetype=filetype, user=user, title=title
        )

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """Every upload the bot began, oldest first: ``file_id``, ``filename``, ``length``,
        ``content`` (the bytes posted, None until then), ``completed``, ``title``,
        ``channel``, ``channels``, ``thread_ts``, ``initial_comment``, ``message_ts`` (the
        share's message), ``alt_txt``, ``snippet_type``, ``upload_url``."""
        return self.workspace.uploads

    def add_usergroup(self, usergroup: str, users: Iterable[str]) -> None:
        """Make ``usergroups.users.list`` answer ``users`` for ``usergroup``."""
        self.workspace.usergroups[usergroup] = list(users)

    @property
    def streaming_error(self) -> str | None:
        """The error every ``chat.startStream`` answers (None: streaming works); settable."""
        return self.workspace.streaming_error

    @streaming_error.setter
    def streaming_error(self, error: str | None) -> None:
        self.workspace.streaming_error = error

    def stop_stream_by_user(self, channel: str, ts: str) -> None:
        """The recipient presses Stop on an open stream in Slack's UI: the stream closes, and
        later ``chat.appendStream``/``chat.stopStream`` calls answer ``stopped_by_user``."""
        self.workspace.stop_stream_by_user(channel, ts)

    # -- reading the record -----------------------------------------------------------------

    def calls_for(self, method: str) -> list[dict[str, Any]]:
        """Recorded calls of one method, oldest first."""
        return [call for call in self.calls if call["method"] == method]

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The channel's messages as they are now (after edits, without deleted ones), by ts;
        with ``thread_ts``, only that thread's parent and replies."""
        return self.workspace.messages(channel, thread_ts=thread_ts)

    def history(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every version a message had, from its post to its last edit."""
        return self.workspace.history(channel, ts)

    def status(self, channel: str, thread_ts: str) -> str:
        """The assistant status a thread shows now ("" when none, or cleared by a bot post)."""
        return self.workspace.status(channel, thread_ts)

    def status_history(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Every change of a thread's status, oldest first: ``status``, ``by`` (the method),
        ``at`` (the fake's clock), and ``loading_messages`` or the clearing post's ``ts``."""
        return self.workspace.status_history(channel, thread_ts)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """Parameters of every ``chat.postEphemeral``, with the ``message_ts`` given back."""
        return self.workspace.ephemerals

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Open modals by view id, as last opened or updated."""
        return self.workspace.views

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until ``predicate()`` is truthy, re-checked at every call, ack and connection."""
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    return await self._changed.wait_for(predicate)
        except TimeoutError:
            recent = [
                (c["method"], c["status"], c.get("fault") or c["response"].get("error"))
                for c in self.calls[-8:]
            ]
            raise TimeoutError(
                f"condition not met within {timeout}s; last calls: {recent}"
            ) from None

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (in the fake's event loop, without awaiting anything) whenever
        :meth:`wait_for` would look again: after every call, ack, connection, upload and
        ``response_url`` post. It reads what changed from the record itself."""
        self._listeners.append(listener)

    async def _notify(self) -> None:
        for listener in self._listeners:
            listener()
        async with self._changed:
            self._changed.notify_all()

    # -- Socket Mode ------------------------------------------------------------------------

    @property
    def socket_connections(self) -> int:
        """How many Socket Mode connections are open."""
        return len(self._sockets)

    async def wait_for_socket(self, timeout: float = 10.0) -> None:
        """Wait until an app has a Socket Mode connection open."""
        await self.wait_for(lambda: self._sockets, timeout)

    async def socket_send_envelope(
        self,
        type: str,  # Slack's own field name, as the brief's callers spell it
        payload: Mapping[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        timeout: float = 10.0,
    ) -> str:
        """Deliver an ``events_api``, ``slash_commands`` or ``interactive`` envelope on the
        newest connection (waiting for one); returns its ``envelope_id``."""
        await self.wait_for_socket(timeout)
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = type != "events_api"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": dict(payload),
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        self.envelopes.append(envelope)
        await self._sockets[-1].send_json(envelope)
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for the app's ack of an envelope; returns the ack's ``payload`` ({} if none)."""
        await self.wait_for(lambda: envelope_id in self.acks, timeout)
        payload: dict[str, Any] = self.acks[envelope_id].get("payload") or {}
        return payload

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the connected app to reconnect, as Slack does every few hours."""
        for ws in list(self._sockets):
            await ws.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
            )

    async def _socket_mode(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)  # Slack's connection URLs are single use
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._sockets.append(ws)
        self.socket_connects += 1
        await self._notify()
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    ack = json.loads(frame.data)
                except ValueError:
                    continue
                if isinstance(ack, dict) and "envelope_id" in ack:
                    self.acks[str(ack["envelope_id"])] = ack
                    await self._notify()
        finally:
            self._sockets.remove(ws)
            await self._notify()
        return ws

    # -- HTTP -------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, token, bad = await _parse(request)
        self._faults = [window for window in self._faults if not window.ended]
        window = next((w for w in self._faults if w.covers(method)), None)
        if window is not None:
            return await self._faulted(request, window, method, params, token, bad)
        status, body, headers = self._answer(method, params, token, bad)
        call = {
            "method": method,
            "params": params,
            "timestamp": self._clock(),
            "status": status,
            "response": body,
        }
        self.calls.append(call)
        await self._notify()
        return web.json_response(body, status=status, headers=headers)

    async def _faulted(
        self,
        request: web.Request,
        window: FaultWindow,
        method: str,
        params: dict[str, Any],
        token: str | None,
        bad: str | None,
    ) -> web.Response:
        """Fail one call as ``window`` says; recorded with ``fault`` = the window's mode."""
        call: dict[str, Any] = {
            "method": method,
            "params": params,
            "timestamp": self._clock(),
            "status": None,  # no HTTP answer (yet)
            "response": {},
            "fault": window.mode,
        }
        self.calls.append(call)
        window.calls.append(call)
        if window.mode == "http500":
            call["status"] = window.status
            if window.body == "json":
                call["response"] = {"ok": False, "error": "internal_error"}
                await self._notify()
                return web.json_response(call["response"], status=window.status)
            await self._notify()
            if window.body == "text":
                return web.Response(status=window.status, text=ENVOY_ERROR_TEXT)
            return web.Response(
                status=window.status, text=SERVER_ERROR_PAGE, content_type="text/html"
            )
        if window.mode == "apply_then_drop":
            status, body, _ = self._answer(method, params, token, bad)
            call.update(status=status, response=body)
        if window.mode in ("drop", "apply_then_drop"):
            await self._notify()
            if request.transport is not None:
                request.transport.close()
            # aiohttp finds the connection closed when it writes this, and lets it go quietly.
            return web.Response(status=204)
        await self._notify()  # hang: tests may wait for the held call to arrive
        try:
            await window.hold()
        except asyncio.CancelledError:
            call["abandoned"] = True  # the client gave up (or the fake shut down)
            await asyncio.shield(self._notify())
            raise
        if _client_gone(request):
            # It gave up just as the window ended, before aiohttp noticed: still not served.
            call["abandoned"] = True
            await self._notify()
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)
        status, body, headers = self._answer(method, params, token, bad)
        call.update(status=status, response=body)
        await self._notify()
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None, bad: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Serve one call: its HTTP status, body and headers (the workspace may change)."""
        channel = params.get("channel") if isinstance(params.get("channel"), str) else None
        headers: dict[str, str] = {}
        status = 200
        body: dict[str, Any]
        auth_error = self._auth_error(method, token) if bad is None else None
        if bad is not None:
            body = {"ok": False, "error": bad}
        elif auth_error is not None:
            body = {"ok": False, "error": auth_error}
        elif (
            method not in _APP_TOKEN_METHODS
            and (missing := scope_error(method, params, self.scopes)) is not None
        ):
            body = missing
        elif (forced := self._take_failure(method)) is not None:
            status, body = forced.status, {"ok": False, "error": forced.error}
            if forced.error == "ratelimited":
                headers["Retry-After"] = f"{forced.retry_after:g}"
        elif (retry_after := self.limiter.take(method, team=self.team_id, channel=channel)) > 0:
            status, body = 429, {"ok": False, "error": "ratelimited"}
            headers["Retry-After"] = str(retry_after)
        elif (handler := self._handlers.get(method)) is None:
            body = {"ok": False, "error": "unknown_method", "req_method": method}
        else:
            try:
                body = handler(params)
            except SlackApiErrorResponse as error:
                body = error.body
        if bad is None and method not in _APP_TOKEN_METHODS and auth_error is None:
            # Slack tells a valid token's scopes, and the method's, on every answer.
            headers["X-OAuth-Scopes"] = ",".join(self.scopes)
            headers["X-Accepted-OAuth-Scopes"] = ",".join(accepted_scopes(method, params))
        return status, body, headers

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        wants_app = method in _APP_TOKEN_METHODS
        if token.startswith("xapp-") != wants_app and token.startswith(("xapp-", "xoxb-")):
            return "not_allowed_token_type"
        expected, prefix = (self.app_token, "xapp-") if wants_app else (self.bot_token, "xoxb-")
        valid = token == expected if expected is not None else token.startswith(prefix)
        return None if valid else "invalid_auth"

    async def _file_view(self, request: web.Request) -> web.Response:
        return await self._serve_file(request, download=False)

    async def _file_download(self, request: web.Request) -> web.Response:
        return await self._serve_file(request, download=True)

    async def _serve_file(self, request: web.Request, *, download: bool) -> web.Response:
        """A file URL: the bytes for a valid bot token with ``files:read``, else (as Slack
        does) 200 with the sign-in page; 404 for a file that is not there. Recorded."""
        team, _, file_id = request.match_info["key"].partition("-")
        found = self.workspace.file_content(file_id) if team == self.team_id else None
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        error = self._auth_error("files.info", token)
        if error is None and "files:read" not in self.scopes:
            error = "missing_scope"
        if found is None:
            error = "file_not_found"
        record: dict[str, Any] = {
            "file_id": file_id,
            "download": download,
            "authorized": error is None,
            "error": error,
            "status": 404 if found is None else 200,
        }
        self.downloads.append(record)
        await self._notify()
        if found is None:
            return web.Response(status=404, text="File not found", content_type="text/html")
        if error is not None:
            return web.Response(text=SIGN_IN_PAGE, content_type="text/html")
        file, content = found
        headers = {"Content-Type": str(file["mimetype"])}
        if download:
            headers["Content-Disposition"] = f'attachment; filename="{file["name"]}"'
        return web.Response(body=content, headers=headers)

    async def _upload(self, request: web.Request) -> web.Response:
        """An upload URL from ``files.getUploadURLExternal``: takes the bytes, raw (as
        slack-sdk posts them) or as the one part of a multipart form (as ``curl -F`` does),
        and answers ``OK - <length>`` in plain text as Slack's file servers do."""
        if request.content_type.startswith("multipart/"):
            content: bytes | None = None
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                data = bytes(await part.read())
                if part.filename is not None:  # the file's part, whatever its field's name
                    content = data
                    break
                content = data if content is None else content
            content = content or b""
        else:
            content = await request.read()
        if not self.workspace.receive_upload(request.match_info["key"], content):
            return web.Response(status=404, text="Not Found")
        await self._notify()
        return web.Response(text=f"OK - {len(content)}")

    async def _response_url(self, request: web.Request) -> web.Response:
        key = request.match_info["id"]
        if key not in self.response_posts:
            return web.json_response({"ok": False, "error": "no_such_url"}, status=404)
        # Slack allows five uses of a response_url (within 30 minutes).
        if len(self.response_posts[key]) >= 5:
            return web.json_response({"ok": False, "error": "used_url"}, status=404)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        self.response_posts[key].append(body)
        await self._notify()
        return web.json_response({"ok": True})

    # -- methods ----------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Fake Team",
            "user": "codex",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        url = f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"
        return {"ok": True, "url": url}


def _client_gone(request: web.Request) -> bool:
    """Whether the client closed its end of the request's connection (peeked, not read)."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        # A duplicate descriptor: asyncio's own socket object must not be used for I/O.
        with socket.socket(fileno=os.dup(sock.fileno())) as peek:
            return peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # open, nothing sent: still waiting for the answer
    except OSError:
        return True


async def _parse(request: web.Request) -> tuple[dict[str, Any], str | None, str | None]:
    """Parameters (query, then form or JSON body), the token, and a parse error if any."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return params, None, "invalid_json"
            if not isinstance(body, dict):
                return params, None, "invalid_json"
            params.update(body)
        else:
            params.update(dict(await request.post()))
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("token")
    params.pop("token", None)
    for key in _JSON_PARAMS:
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                return (
                    params,
                    token,
                    "invalid_blocks_format" if key == "blocks" else "invalid_arguments",
                )
    return params, (str(token) if token else None), None

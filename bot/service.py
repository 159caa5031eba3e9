"""One running bot: the wiring of settings, Redis, the Codex pool, Slack and the Bolt app.

:class:`Service` owns every long-lived resource and closes them in reverse order. It is what
``codex-slack serve`` runs and what the end-to-end tests start against their fakes, so both
exercise the same wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable
from typing import Any, cast

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import Access
from bot.app import build_web_app, register_listeners
from bot.approvals import Approvals
from bot.attachments import Attachments, FileLimits
from bot.bridge import Bridge, new_replica_id
from bot.commands import Commands
from bot.config import Settings
from bot.context import ThreadContext
from bot.doctor import (
    authenticate,
    check_codex_binary,
    listen_problem,
    missing_scopes,
    open_socket_url,
    ping_redis,
    scopes_problem,
)
from bot.intake import MentionIntake
from bot.lanes import Lanes
from bot.metrics import Metrics
from bot.recap import Recaps
from bot.replies import PrivateReplies
from bot.slack_client import MeteredWebClient
from bot.store import Store
from bot.tasks import BackgroundTasks
from bot.turns import TurnRunner
from codex_client import CodexError, CodexPool

log = logging.getLogger(__name__)

POST_RETRIES = 5
"""429s in a row a ``chat.postMessage`` waits out before giving up: enough for a burst of
mentions in one channel (Slack allows about one post per second per channel)."""


class RetryRateLimitedPosts(AsyncRateLimitErrorRetryHandler):
    """Waits out Slack's ``Retry-After`` and resends a ``chat.postMessage`` refused with 429.

    A refused placeholder would otherwise drop its mention (the turn never runs). Only
    ``chat.postMessage``: ``chat.update`` 429s are the reply stream's to handle, since it must
    pause the whole workspace's budget and skip stale frames rather than resend them.
    Each 429 waited out is counted in ``metrics``, as the client counts the ones it raises.
    """

    def __init__(self, metrics: Metrics, max_retry_count: int = POST_RETRIES) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.metrics = metrics

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _method_of(request) != "chat.postMessage":
            return False
        retry = await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )
        if retry:
            self.metrics.slack_calls.labels("chat.postMessage", "ratelimited").inc()
            self.metrics.rate_limited.labels("chat.postMessage").inc()
        return retry

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait out ``Retry-After`` (read as a number of seconds, fractions included; slack-sdk
        reads only whole ones), plus up to a tenth more so posts refused together spread out."""
        headers = response.headers if response is not None else {}
        raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        value = raw[0] if isinstance(raw, list) and raw else raw
        try:
            seconds = max(0.0, float(value)) if isinstance(value, str) else 1.0
        except ValueError:
            seconds = 1.0
        state.next_attempt_requested = True
        await asyncio.sleep(seconds * (1 + random.random() / 10))  # jitter
        state.increment_current_attempt()


class ResendOnlyIdempotentCalls(AsyncConnectionErrorRetryHandler):
    """slack-sdk's resend after a dropped connection, except for the stream calls.

    A connection can drop after Slack applied the call. Resending an edit or a status shows
    the same thing again, but resending ``chat.appendStream`` would repeat text (and a start,
    open a second stream): the reply stream handles those failures itself, by edits.
    """

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _method_of(request) in NOT_RESENT:
            return False
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


NOT_RESENT = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})


def _method_of(request: HttpRequest) -> str:
    """The Web API method a retried request calls (the last part of its URL)."""
    return request.url.rstrip("/").rsplit("/", 1)[-1]


class Service:
    """Everything one bot process owns; ``async with Service(settings) as service``."""

    def __init__(self, settings: Settings, *, pool: CodexPool | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.metrics.update_budget.set(settings.slack_update_budget_per_minute)
        # No socket timeout (redis-py 8 defaults to 5 s): its wait_for can swallow a
        # cancellation on Python 3.11, and a hand-over cancels streams mid-call to Redis.
        self.redis = aioredis.from_url(settings.redis_url, socket_timeout=None)
        self.store = Store(self.redis)
        self.slack = MeteredWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            timeout=max(1, round(settings.slack_timeout_seconds)),
            metrics=self.metrics,
            retry_handlers=[
                *(
                    ResendOnlyIdempotentCalls()
                    if isinstance(handler, AsyncConnectionErrorRetryHandler)
                    else handler
                    for handler in async_default_handlers()
                ),
                RetryRateLimitedPosts(self.metrics),
            ],
        )
        self.tasks = BackgroundTasks("bot")
        """Work started by Slack requests, which are acknowledged before it runs."""
        self.access = Access(settings, self.slack)
        self.replies = PrivateReplies(self.slack)
        self.approvals = Approvals(
            store=self.store,
            slack=self.slack,
            settings=settings,
            access=self.access,
            tasks=self.tasks,
        )
        self.pool = pool or CodexPool(
            settings.codex_endpoints(),
            request_timeout=settings.codex_request_timeout,
            approval_handler=self.approvals.handle,
        )
        self.pool.add_reconnect_listener(lambda _key: self.metrics.codex_reconnects.inc())
        self.lanes = Lanes(
            self.redis,
            {"chat.update": settings.slack_update_budget_per_minute, **settings.slack_rate_limits},
            min_interval=settings.slack_min_edit_interval_seconds,
        )
        self.bolt: AsyncApp | None = None
        self.bridge: Bridge | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.port = 0
        self.stopping = False
        """Set at the start of :meth:`shutdown`: ``/readyz`` answers 503 from then on."""

    async def start(self, *, socket_mode: bool, port: int) -> None:
        """Connect everything and start receiving Slack requests."""
        # One pooled HTTP session for every Slack call (slack-sdk opens one per call without
        # it: a new TLS handshake before each edit). Made here, inside the running loop.
        # The session's own timeout is the one that counts (slack-sdk's `timeout` only applies
        # to sessions it makes): without it a hung Slack call would wait aiohttp's 5 minutes.
        self.slack.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.slack_timeout_seconds)
        )
        # The start-up checks (bot/doctor.py) stop a start that cannot work with one line
        # naming the setting: Slack and the token first, then Redis and the Codex binary.
        auth = await authenticate(self.slack, self.settings)
        unscoped = missing_scopes(auth)
        if unscoped:
            log.warning(scopes_problem(unscoped) + " The bot runs without them meanwhile.")
        await ping_redis(self.redis, self.settings)
        await check_codex_binary(self.settings)
        bot_user_id = str(auth["user_id"])
        # The one auth.test of this process answers Bolt's authorization of every request
        # (its single-team default calls auth.test again for each concurrent first event).
        authorized = AuthorizeResult.from_auth_test_response(
            auth_test_response=auth,
            bot_token=self.settings.slack_bot_token.get_secret_value(),
        )

        async def authorize(**_: object) -> AuthorizeResult:
            return authorized

        try:
            await self.pool.start()
        except CodexError as exc:
            # The bot still serves: each turn tells its thread that Codex is unreachable,
            # and /readyz says so, until the pool's reconnects succeed.
            log.error("Codex is unreachable at start: %s", exc)
        runner = TurnRunner(
            settings=self.settings,
            pool=self.pool,
            store=self.store,
            slack=self.slack,
            owner=new_replica_id(),
            metrics=self.metrics,
            observer=self.approvals.observe,
            lanes=self.lanes,
            context=ThreadContext(
                self.slack,
                self.store,
                bot_user_id=bot_user_id,
                max_chars=self.settings.thread_context_chars,
            )
            if self.settings.thread_context_chars
            else None,
            attachments=Attachments(
                token=self.settings.slack_bot_token.get_secret_value(),
                root=self.settings.files_dir,
                limits=FileLimits(
                    max_bytes=self.settings.file_max_bytes,
                    max_files=self.settings.file_max_count,
                ),
            )
            if self.settings.file_max_count
            else None,
        )
        self.bridge = Bridge(
            settings=self.settings,
            store=self.store,
            slack=self.slack,
            runner=runner,
            metrics=self.metrics,
            tasks=self.tasks,
        )
        await self.bridge.start()
        recaps = Recaps(
            pool=self.pool,
            store=self.store,
            slack=self.slack,
            access=self.access,
            replies=self.replies,
        )
        commands = Commands(
            pool=self.pool,
            store=self.store,
            slack=self.slack,
            access=self.access,
            replies=self.replies,
            recaps=recaps,
            approvals=self.approvals,
            submit=self.bridge.submit,
            bot_user_id=bot_user_id,
        )
        intake = MentionIntake(
            store=self.store,
            access=self.access,
            replies=self.replies,
            bridge=self.bridge,
            thread_commands=commands.in_thread,
            bot_user_id=bot_user_id,
        )
        secret = self.settings.slack_signing_secret
        signing_secret = secret.get_secret_value() if secret else None
        self.bolt = AsyncApp(
            # Bolt's own client carries no token: each request's comes from `authorize` (a
            # client holding one as well makes Bolt warn that it will be ignored). It shares
            # the bot's session; the bot's own calls go through self.slack.
            client=AsyncWebClient(base_url=self.settings.slack_api_url, session=self.slack.session),
            authorize=authorize,
            signing_secret=signing_secret,
            request_verification_enabled=not socket_mode,
            process_before_response=False,
        )
        register_listeners(self.bolt, intake, commands, self.tasks)
        web_app = build_web_app(
            None if socket_mode else self.bolt,
            self.metrics,
            self.readiness,
            signing_secret=signing_secret,
            tasks=self.tasks,
        )
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, port)
        try:
            await site.start()
        except OSError as exc:
            raise listen_problem(exc, self.settings.host, port) from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        if socket_mode:
            assert self.settings.slack_app_token is not None
            self._socket = AsyncSocketModeHandler(
                self.bolt, self.settings.slack_app_token.get_secret_value(), web_client=self.slack
            )
            # The first URL is asked for here rather than by the handler's connect, which
            # retries a refusal (Socket Mode off, a revoked token) every 10 s forever.
            self._socket.client.wss_uri = await open_socket_url(self.slack, self.settings)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]  # untyped in slack-bolt

    async def readiness(self) -> dict[str, str]:
        """Redis and Codex each ``ok`` or a short reason (never a secret)."""
        checks: dict[str, str] = {}
        if self.stopping:
            checks["shutdown"] = "draining"
        try:
            await cast(Any, self.redis.ping())  # redis-py 7 types it sync|async, 8 async
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = type(exc).__name__
        health = await self.pool.check()
        checks["codex"] = "ok" if all(v.get("ok") for v in health.values()) else "unreachable"
        return checks

    async def shutdown(self) -> None:
        """A graceful stop (SIGTERM): unready at once, no new Socket Mode events, turns in
        flight finish or are handed over within ``SHUTDOWN_DRAIN_SECONDS``, then close."""
        self.stopping = True
        log.info("shutdown requested: draining for up to %gs", self.settings.shutdown_drain_seconds)
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self.bridge is not None:
            await self.bridge.shutdown(self.settings.shutdown_drain_seconds)
        await self.close()

    async def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()  # type: ignore[no-untyped-call]
        await self.tasks.aclose()
        if self.bridge is not None:
            await self.bridge.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.pool.close()
        await self.redis.aclose()
        if self.slack.session is not None:
            await self.slack.session.close()

    async def run_forever(
        self, *, socket_mode: bool, port: int, started: Callable[[], object] | None = None
    ) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully; ``started`` is called
        once the start has worked. A start that fails closes what it opened and raises (a
        :class:`~bot.doctor.StartupProblem` when the reason is known)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            try:
                await self.start(socket_mode=socket_mode, port=port)
            except BaseException:
                await self.close()  # nothing ran yet: no drain, no hand-over
                raise
            if started is not None:
                started()
            try:
                await stop.wait()
                log.info("received a stop signal")
            finally:
                await self.shutdown()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

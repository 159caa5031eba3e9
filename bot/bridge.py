"""Conversations: a Slack mention becomes a Codex turn whose answer streams back into the thread.

For each mention the bridge

1. drops duplicates (Slack retries an event up to three times, and ``app_mention`` and
   ``message`` both fire for one post): a claim on the ``event_id`` and one on channel + ts;
2. queues it on its Slack thread and, if no turn is running there (a lease in Redis, shared
   by every replica), runs the queue: a mention that arrives mid-turn becomes the next turn,
   and its author is told so;
3. finds the Codex thread mapped to the Slack thread, or starts one, and resumes it on the
   app-server that owns it (which also makes this connection receive its events);
4. posts a placeholder at once and streams the turn into it (:mod:`bot.streaming`).

Failures are told to the thread: Codex unreachable, Redis unreachable, a failed turn. Nothing
is removed from Redis on a failure, so the mapping survives for the next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis.exceptions
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.access import Access
from bot.config import Settings
from bot.metrics import Metrics
from bot.replies import PrivateReplies, Requester
from bot.store import Store, ThreadRecord
from bot.streaming import EditBudget, ReplyStream, StreamLimits
from codex_client import (
    AgentMessageDelta,
    CodexError,
    CodexPool,
    ConnectionLost,
    ItemCompleted,
    ItemStarted,
    ThreadHandle,
    TurnEvent,
    TurnHandle,
    TurnResult,
)

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
"""A turn's lease outlives a crashed replica by at most this long; it is renewed while alive."""


@dataclass(frozen=True)
class SlackThread:
    """A Slack thread: the unit that maps to one Codex thread."""

    team: str
    channel: str
    thread_ts: str

    @property
    def key(self) -> str:
        return f"{self.team}:{self.channel}:{self.thread_ts}"

    @property
    def log_fields(self) -> dict[str, str]:
        """The ids a log line about this thread carries (see :mod:`bot.logs`)."""
        return {"team": self.team, "channel": self.channel, "thread_ts": self.thread_ts}


@dataclass(frozen=True)
class Mention:
    """One request to the agent, as queued on its Slack thread."""

    team: str
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str

    @property
    def thread(self) -> SlackThread:
        return SlackThread(self.team, self.channel, self.thread_ts)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Mention:
        return cls(**json.loads(raw))


_CLIENT_ID_PREFIX = "slack:"


def client_message_id(mention: Mention) -> str:
    """The ``clientUserMessageId`` of a mention's turn: Codex keeps it on the user message
    (``clientId``), so a recap can say who asked long after Redis forgot the turn."""
    return f"{_CLIENT_ID_PREFIX}{mention.user}:{mention.channel}:{mention.ts}"


def author_of(client_id: object) -> str | None:
    """The Slack user in a :func:`client_message_id`; None for turns started elsewhere."""
    if not isinstance(client_id, str) or not client_id.startswith(_CLIENT_ID_PREFIX):
        return None
    user = client_id[len(_CLIENT_ID_PREFIX) :].split(":", 1)[0]
    return user or None


class Bridge:
    """The conversation service between Slack and Codex."""

    def __init__(
        self,
        *,
        settings: Settings,
        pool: CodexPool,
        store: Store,
        slack: AsyncWebClient,
        budget: EditBudget,
        bot_user_id: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.slack = slack
        self.budget = budget
        self.bot_user_id = bot_user_id
        self.metrics = metrics or Metrics()
        self.owner = f"replica-{uuid.uuid4().hex[:12]}"
        self.limits = StreamLimits()
        self.access = Access(settings, slack)
        self.replies = PrivateReplies(slack)
        self.thread_commands: Callable[[Mention], Awaitable[bool]] | None = None
        """Set by :class:`bot.commands.Commands`: takes ``@bot steer|stop|recap`` mentions
        (True) before they would become turns."""
        self.turn_observer: Callable[[TurnEvent], None] | None = None
        """Set by :class:`bot.commands.Commands`: sees every event of the turns run here (the
        approvals need file-change items and turn ends). Called inline: must not block."""
        self._tasks: set[asyncio.Task[None]] = set()

    # -- entry points --

    async def on_message_event(self, event: dict[str, Any], *, event_id: str, team: str) -> None:
        """An ``app_mention`` or ``message`` event: run it as a mention if it is one for us."""
        try:
            mention = self._parse(event, team)
        except (KeyError, TypeError, ValueError):
            log.warning("ignored a malformed event %s", event_id)
            return
        if mention is None:
            return
        try:
            if not await self.store.claim_event(event_id):
                return
            if not await self.store.claim_message(mention.channel, mention.ts):
                return
        except redis.exceptions.RedisError:
            log.exception("Redis unreachable while handling event %s", event_id)
            await self._say(mention.thread, render.REDIS_DOWN)
            return
        if self.thread_commands is not None and await self.thread_commands(mention):
            return
        refusal = await self.access.why_not("mention", user=mention.user, channel=mention.channel)
        if refusal is not None:
            author = Requester(mention.team, mention.user, mention.channel, mention.thread_ts)
            await self.replies.tell(author, refusal)
            return
        await self.submit(mention)

    def _parse(self, event: dict[str, Any], team: str) -> Mention | None:
        if event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast"):
            return None
        text = str(event["text"])
        if event.get("type") == "message" and f"<@{self.bot_user_id}>" not in text:
            return None
        ts = str(event["ts"])
        return Mention(
            team=str(event.get("team") or team),
            channel=str(event["channel"]),
            thread_ts=str(event.get("thread_ts") or ts),
            ts=ts,
            user=str(event["user"]),
            text=render.clean_mention(text, self.bot_user_id),
        )

    async def submit(self, mention: Mention) -> None:
        """Queue ``mention`` on its thread and run the queue unless another turn is running."""
        try:
            await self.store.enqueue_pending(mention.thread.key, mention.to_json())
            await self.store.remember_user_thread(
                mention.team, mention.channel, mention.user, mention.thread_ts
            )
            ran = await self._drain(mention.thread)
        except redis.exceptions.RedisError:
            log.exception("Redis unreachable", extra=mention.thread.log_fields)
            await self._say(mention.thread, render.REDIS_DOWN)
            return
        if not ran:
            await self._say(mention.thread, render.queued(mention.user))

    async def _drain(self, thread: SlackThread) -> bool:
        """Run the thread's queued mentions while holding its lease; False if another holds it."""
        took = False
        lease_key = thread.key
        while await self.store.acquire_lease(lease_key, self.owner, LEASE_SECONDS):
            took = True
            renewer = asyncio.create_task(self._renew(lease_key))
            try:
                while (raw := await self.store.pop_pending(thread.key)) is not None:
                    await self._run_turn(Mention.from_json(raw))
            finally:
                renewer.cancel()
                await self.store.release_lease(lease_key, self.owner)
            # A mention queued between our last pop and the release found the lease taken;
            # look once more so it is never stranded.
            if await self.store.pending_count(thread.key) == 0:
                break
        return took

    async def _renew(self, lease_key: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            await self.store.renew_lease(lease_key, self.owner, LEASE_SECONDS)

    # -- one turn --

    async def _run_turn(self, mention: Mention) -> None:
        thread = mention.thread
        stop_value = thread.key
        try:
            placeholder = await self.slack.chat_postMessage(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                text=render.THINKING,
                blocks=render.reply_blocks(render.THINKING, stop_value=stop_value),
            )
        except SlackApiError:
            log.exception("could not post the placeholder", extra=thread.log_fields)
            return
        reply_ts = str(placeholder["ts"])
        stream = ReplyStream(
            slack=self.slack,
            budget=self.budget,
            team=thread.team,
            channel=thread.channel,
            thread_ts=thread.thread_ts,
            first_ts=reply_ts,
            stream_id=f"{thread.key}:{reply_ts}",
            limits=self.limits,
            stop_value=stop_value,
        )
        try:
            await self._turn(mention, stream, reply_ts)
        except Exception as exc:
            # Whatever broke, the reply must not stay "Thinking…" with a live Stop button.
            log.exception("turn failed inside the bot", extra=thread.log_fields)
            await stream.finish(render.failed("", f"internal error ({type(exc).__name__})"))

    async def _turn(self, mention: Mention, stream: ReplyStream, reply_ts: str) -> None:
        thread = mention.thread
        try:
            handle = await self._codex_thread(mention)
            turn = await handle.start_turn(
                mention.text, clientUserMessageId=client_message_id(mention)
            )
        except CodexError as exc:
            log.warning("Codex refused a turn: %s", type(exc).__name__, extra=thread.log_fields)
            self.metrics.turns.labels("failed").inc()
            await stream.finish(render.codex_unreachable(exc))
            return
        self.metrics.turns.labels("started").inc()
        fields = {**thread.log_fields, "codex_thread": handle.id, "turn": turn.id}
        log.info("turn started", extra=fields)
        await self.store.set_active_turn(handle.id, turn.id, mention.user, reply_ts)
        self.metrics.active_streams.inc()
        try:
            final = await self._stream_turn(turn, stream)
            log.info("turn finished", extra=fields)
            await stream.finish(final)
        finally:
            self.metrics.active_streams.dec()
            await self.store.clear_active_turn(handle.id, turn.id)

    async def _codex_thread(self, mention: Mention) -> ThreadHandle:
        thread = mention.thread
        record = await self.store.get_thread(thread.team, thread.channel, thread.thread_ts)
        if record is not None:
            # The pool resumes the thread on its first turn through this connection.
            return self.pool.thread(record.codex_thread_id, endpoint_key=record.endpoint_key)
        policy = self.settings.channel_policy(thread.channel)
        handle = await self.pool.start_thread(
            model=self.settings.codex_model,
            cwd=self.settings.codex_cwd,
            approval_policy=policy.approval_policy,
            sandbox=policy.sandbox,
        )
        mapped = await self.store.claim_thread(
            ThreadRecord(
                codex_thread_id=handle.id,
                endpoint_key=handle.endpoint_key,
                team=thread.team,
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                started_by=mention.user,
                created_at=time.time(),
            )
        )
        if mapped.codex_thread_id != handle.id:
            # Another replica mapped this Slack thread first (our lease had lapsed): join its
            # conversation rather than overwrite the mapping and orphan it.
            return self.pool.thread(mapped.codex_thread_id, endpoint_key=mapped.endpoint_key)
        return handle

    async def _stream_turn(self, turn: TurnHandle, stream: ReplyStream) -> str:
        first_delta_at: float | None = None
        stream.start()
        observe = self.turn_observer
        try:
            async for event in turn.events():
                if observe is not None:
                    observe(event)
                if isinstance(event, AgentMessageDelta):
                    self.metrics.deltas.inc()
                    if first_delta_at is None:
                        first_delta_at = time.monotonic()
                    stream.add_delta(event.item_id, event.delta)
                elif isinstance(event, ItemStarted):
                    stream.set_activity(render.activity(event.item))
                elif isinstance(event, ItemCompleted):
                    if getattr(event.item, "type", None) == "agentMessage":
                        stream.complete_item(str(event.item.id), str(event.item.text or ""))
                    stream.set_activity(None)
            result = await turn.wait()
        except ConnectionLost:
            self.metrics.turns.labels("failed").inc()
            return render.connection_lost(stream.streaming_text())
        if first_delta_at is not None and stream.stats.first_edit_at is not None:
            self.metrics.first_edit_seconds.observe(
                max(0.0, stream.stats.first_edit_at - first_delta_at)
            )
        self.metrics.turns.labels(result.status).inc()
        stopped_by = None
        if result.status == "interrupted":
            with contextlib.suppress(redis.exceptions.RedisError):
                stopped_by = await self.store.stopped_by(turn.thread_id, turn.id)
        return self._final_text(result, stopped_by=stopped_by)

    def _final_text(self, result: TurnResult, *, stopped_by: str | None = None) -> str:
        if result.status == "completed":
            return result.final_text
        if result.status == "interrupted":
            return render.interrupted(result.final_text, stopped_by=stopped_by)
        message = result.error.message if result.error is not None else "unknown error"
        return render.failed(result.final_text, message)

    # -- helpers --

    async def _say(self, thread: SlackThread, text: str) -> None:
        with contextlib.suppress(SlackApiError):
            await self.slack.chat_postMessage(
                channel=thread.channel, thread_ts=thread.thread_ts, text=text
            )

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background, keeping a reference so it is not collected."""
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Background work has no caller to raise to; say what failed, with its traceback.
            log.error("background task failed", exc_info=exc)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

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

Every reply in flight is a **job** in Redis (:class:`bot.store.Job`), written as it goes: the
mention, the Slack messages, the Codex turn, the text shown, the final text once known. The
replica holding a thread's lease beats a heartbeat; every replica's watcher takes over threads
whose lease holder stopped beating (a crash) or handed over (a deploy), and finishes their job
from the record: a turn still running is followed in the same Slack message, a finished one gets
its exact final text, a lost one says so and offers to run again. Queued mentions run next.
The same re-attach follows a turn across a dropped Codex connection.
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

import aiohttp
import redis.exceptions
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from bot import render, slack_errors
from bot.access import Access
from bot.config import Settings
from bot.metrics import Metrics
from bot.replies import PrivateReplies, Requester
from bot.store import Job, Store, ThreadRecord, thread_key
from bot.streaming import EditBudget, ReplyProgress, ReplyStream, StreamLimits
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
    TurnLost,
    TurnResult,
)

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
"""A thread's lease lapses this long after its holder stopped renewing it: a backstop only, as
takeover goes by the holder's heartbeat (seconds), not by the lease."""

_SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError, OSError)


@dataclass(frozen=True)
class SlackThread:
    """A Slack thread: the unit that maps to one Codex thread."""

    team: str
    channel: str
    thread_ts: str

    @classmethod
    def from_key(cls, key: str) -> SlackThread:
        """The thread whose :attr:`key` is ``key``."""
        team, channel, thread_ts = key.split(":", 2)
        return cls(team, channel, thread_ts)

    @property
    def key(self) -> str:
        return thread_key(self.team, self.channel, self.thread_ts)

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
        self.limits = StreamLimits(final_retry_seconds=settings.slack_retry_seconds)
        self.access = Access(settings, slack)
        self.replies = PrivateReplies(slack)
        self.thread_commands: Callable[[Mention], Awaitable[bool]] | None = None
        """Set by :class:`bot.commands.Commands`: takes ``@bot steer|stop|recap`` mentions
        (True) before they would become turns."""
        self.turn_observer: Callable[[TurnEvent], None] | None = None
        """Set by :class:`bot.commands.Commands`: sees every event of the turns run here (the
        approvals need file-change items and turn ends). Called inline: must not block."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._holds: dict[str, asyncio.Task[Any]] = {}
        """The task holding each Slack thread's lease on this replica, by thread key."""
        self._background: list[asyncio.Task[None]] = []
        self.stopping = False
        """Set by :meth:`shutdown`: no new turn starts here, and no thread is taken over."""

    # -- replica lifecycle --

    async def start(self) -> None:
        """Beat the first heartbeat, then keep beating and watch for threads to take over."""
        try:
            await self.store.heartbeat(self.owner, self.settings.replica_heartbeat_seconds)
        except redis.exceptions.RedisError as exc:
            # The bot still serves (each mention is told Redis is down) until Redis is back.
            log.error("Redis is unreachable at start: %s", exc)
        self._background = [
            asyncio.create_task(self._beat(), name="replica-heartbeat"),
            asyncio.create_task(self._watch(), name="takeover-watcher"),
        ]

    async def _beat(self) -> None:
        ttl = self.settings.replica_heartbeat_seconds
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                await self.store.heartbeat(self.owner, ttl)
            except redis.exceptions.RedisError as exc:
                log.warning("could not renew the heartbeat: %s", exc)

    async def _watch(self) -> None:
        """Take over threads whose replica died or handed them over, as they appear."""
        interval = self.settings.replica_heartbeat_seconds / 5
        while not self.stopping:
            try:
                orphans = await self.store.claim_orphans(self.owner, LEASE_SECONDS)
            except redis.exceptions.RedisError as exc:
                log.warning("takeover watcher: Redis unreachable: %s", exc)
                orphans = []
            for key, has_job in orphans:
                self.spawn(self._take_over(key, has_job))
            await asyncio.sleep(interval)

    async def shutdown(self, drain_seconds: float) -> None:
        """Stop starting turns; let running ones finish for up to ``drain_seconds``; hand the
        rest over to the other replicas (or to this one's successor) without waiting for a
        lease to lapse. Replies handed over keep what they show; nothing is written to them."""
        self.stopping = True
        running = list(self._holds.values())
        log.info("shutting down: %d thread(s) in flight", len(running))
        if running:
            await asyncio.wait(running, timeout=drain_seconds)
        left = [task for task in self._holds.values() if not task.done()]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        with contextlib.suppress(redis.exceptions.RedisError):
            await self.store.retire(self.owner)
        log.info("shut down: %d finished, %d handed over", len(running) - len(left), len(left))

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
        """Queue ``mention`` on its thread and run the queue unless another turn is running.

        While this replica shuts down the mention only waits in the queue: another replica
        (or this one's successor) takes the thread over within a heartbeat.
        """
        try:
            await self.store.enqueue_pending(mention.thread.key, mention.to_json())
            await self.store.remember_user_thread(
                mention.team, mention.channel, mention.user, mention.thread_ts
            )
            if self.stopping:
                return
            ran = await self._drain(mention.thread.key)
        except redis.exceptions.RedisError:
            log.exception("Redis unreachable", extra=mention.thread.log_fields)
            await self._say(mention.thread, render.REDIS_DOWN)
            return
        if not ran:
            await self._say(mention.thread, render.queued(mention.user))

    async def _drain(self, key: str) -> bool:
        """Run the thread's queued mentions while holding its lease; False if another holds it."""
        took = False
        while not self.stopping and await self.store.acquire_lease(key, self.owner, LEASE_SECONDS):
            took = True
            await self._hold(key)
            # A mention queued between our last pop and the release found the lease taken;
            # look once more so it is never stranded.
            if await self.store.pending_count(key) == 0:
                break
        return took

    async def _take_over(self, key: str, has_job: bool) -> None:
        """Finish the job of a thread whose replica died or left, then run its queue."""
        thread = SlackThread.from_key(key)
        job = await self.store.get_job(key) if has_job else None
        log.info("took over a thread (job: %s)", job is not None, extra=thread.log_fields)
        self.metrics.takeovers.inc()
        await self._hold(key, job)
        if await self.store.pending_count(key):
            await self._drain(key)

    async def _hold(self, key: str, job: Job | None = None) -> None:
        """Run ``job`` (a taken-over one), then the queue, while this replica holds the lease.

        Cancelled by :meth:`shutdown` when the drain deadline passes: the lease and the job
        are then left as they are, for the replica that takes the thread over.
        """
        task = asyncio.current_task()
        assert task is not None
        self._holds[key] = task
        renewer = asyncio.create_task(self._renew(key))
        handed_over = False
        try:
            if job is not None:
                await self._run_job(job, taken_over=True)
            while not self.stopping and (job := await self.store.start_job(key, self.owner)):
                await self._run_job(job)
        except asyncio.CancelledError:
            handed_over = True
            raise
        finally:
            renewer.cancel()
            if self._holds.get(key) is task:
                del self._holds[key]
            if not handed_over:
                with contextlib.suppress(redis.exceptions.RedisError):
                    await self.store.release_lease(key, self.owner)

    async def _renew(self, key: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            with contextlib.suppress(redis.exceptions.RedisError):
                await self.store.renew_lease(key, self.owner, LEASE_SECONDS)

    # -- one job: a reply and its turn --

    async def _run_job(self, job: Job, *, taken_over: bool = False) -> None:
        mention = Mention.from_json(job.mention)
        thread = mention.thread
        try:
            stream = await self._reply_stream(job, mention)
        except _SLACK_FAILURES as exc:
            # Slack refused even the placeholder, for the whole retry window: nothing can be
            # shown in this thread now. The mention is dropped, loudly.
            log.error(
                "could not post a reply (%s); the mention is dropped",
                slack_errors.error_code(exc) or type(exc).__name__,
                extra=thread.log_fields,
            )
            await self.store.finish_job(thread.key, self.owner)
            return
        if stream is None:
            return  # another replica owns the job now
        try:
            final, rerun = await self._final_of(job, mention, stream, taken_over=taken_over)
            if final is None:
                await stream.abandon()
                return
            await stream.finish(final, rerun_value=rerun)
        except asyncio.CancelledError:
            await stream.abandon()
            raise
        except Exception as exc:
            # Whatever broke, the reply must not stay "Thinking…" with a live Stop button.
            log.exception("turn failed inside the bot", extra=thread.log_fields)
            await stream.finish(render.failed("", f"internal error ({type(exc).__name__})"))
        if not stream.superseded:
            await self.store.finish_job(thread.key, self.owner)

    async def _reply_stream(self, job: Job, mention: Mention) -> ReplyStream | None:
        """The job's reply: posted now (a placeholder), or the messages it already has."""
        thread = mention.thread
        messages = list(job.messages)
        placeholder: str | None = None
        if not messages:
            messages = [await self._post_placeholder(thread)]
            placeholder = render.THINKING
            if not await self.store.update_job(thread.key, self.owner, messages=messages):
                with contextlib.suppress(*_SLACK_FAILURES):
                    await self.slack.chat_delete(channel=thread.channel, ts=messages[0])
                return None

        async def record(progress: ReplyProgress) -> bool:
            return await self.store.update_job(
                thread.key,
                self.owner,
                messages=progress.messages,
                item_id=progress.item_id or "",
                text=progress.text,
            )

        stream = ReplyStream(
            slack=self.slack,
            budget=self.budget,
            team=thread.team,
            channel=thread.channel,
            thread_ts=thread.thread_ts,
            first_ts=messages[0],
            more_ts=messages[1:],
            stream_id=f"{thread.key}:{messages[0]}",
            limits=self.limits,
            stop_value=thread.key,
            placeholder=placeholder,
            progress=record,
            log_fields=thread.log_fields,
        )
        if job.item_id:
            stream.restore(job.item_id, job.text)
        return stream

    async def _post_placeholder(self, thread: SlackThread) -> str:
        async for attempt in slack_errors.retrying(self.settings.slack_retry_seconds):
            with attempt:
                posted = await self.slack.chat_postMessage(
                    channel=thread.channel,
                    thread_ts=thread.thread_ts,
                    text=render.THINKING,
                    blocks=render.reply_blocks(render.THINKING, stop_value=thread.key),
                )
        return str(posted["ts"])

    async def _final_of(
        self, job: Job, mention: Mention, stream: ReplyStream, *, taken_over: bool
    ) -> tuple[str | None, str | None]:
        """The job's final text (None: the job is another replica's now) and, for a turn
        that was lost, the value of a "Run again" button."""
        thread = mention.thread
        if job.final is not None:
            return job.final, None  # the turn had ended; Slack had not shown it yet
        try:
            turn = await self._turn_of(job, mention, stream.first_ts, taken_over=taken_over)
            if turn is None:
                return None, None
            final = await self._stream_turn(turn, stream)
            fields = {**thread.log_fields, "codex_thread": turn.thread_id, "turn": turn.id}
            log.info("turn finished", extra=fields)
        except TurnLost as exc:
            log.warning("the turn was lost: %s", exc.why, extra=thread.log_fields)
            self.metrics.turns.labels("lost").inc()
            final = render.turn_lost(stream.streaming_text())
            rerun = await self.store.save_rerun(mention.to_json())
            if not await self.store.update_job(thread.key, self.owner, final=final):
                return None, None
            return final, rerun
        except CodexError as exc:
            log.warning("Codex refused a turn: %s", type(exc).__name__, extra=thread.log_fields)
            self.metrics.turns.labels("failed").inc()
            return render.codex_unreachable(exc), None
        if final is None or not await self.store.update_job(thread.key, self.owner, final=final):
            return None, None
        with contextlib.suppress(redis.exceptions.RedisError):
            await self.store.clear_active_turn(turn.thread_id, turn.id)
        return final, None

    async def _turn_of(
        self, job: Job, mention: Mention, reply_ts: str, *, taken_over: bool
    ) -> TurnHandle | None:
        """The job's turn: re-attached when it was started before, else started now."""
        thread = mention.thread
        if job.turn_id and job.codex_thread_id:
            handle = self.pool.thread(job.codex_thread_id, endpoint_key=job.endpoint_key)
            return await handle.attach_turn(job.turn_id)
        handle = await self._codex_thread(mention)
        client_id = client_message_id(mention)
        found = await handle.find_turn(client_id) if taken_over else None
        if found is not None:
            # The replica that died had sent the turn already: follow it, don't send it twice.
            turn = await handle.attach_turn(found)
        else:
            turn = await handle.start_turn(mention.text, clientUserMessageId=client_id)
            self.metrics.turns.labels("started").inc()
        fields = {**thread.log_fields, "codex_thread": handle.id, "turn": turn.id}
        log.info("turn started", extra=fields)
        await self.store.set_active_turn(handle.id, turn.id, mention.user, reply_ts)
        recorded = await self.store.update_job(
            thread.key,
            self.owner,
            codex_thread_id=handle.id,
            endpoint_key=handle.endpoint_key,
            turn_id=turn.id,
        )
        return turn if recorded else None

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

    async def _stream_turn(self, turn: TurnHandle, stream: ReplyStream) -> str | None:
        """Stream the turn into the reply until it ends; its final text, or None when the
        reply became another replica's. Follows the turn across dropped connections."""
        first_delta_at: float | None = None
        stream.start()
        self.metrics.active_streams.inc()
        observe = self.turn_observer
        try:
            while True:
                try:
                    async for event in turn.events():
                        if stream.superseded:
                            return None
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
                    break
                except ConnectionLost:
                    reattached = await self._reattach(turn)
                    if reattached is None:
                        self.metrics.turns.labels("failed").inc()
                        return render.connection_lost(stream.streaming_text())
                    turn = reattached
        finally:
            self.metrics.active_streams.dec()
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

    async def _reattach(self, turn: TurnHandle) -> TurnHandle | None:
        """Follow ``turn`` again once its connection is back; None if it stays down for the
        whole re-attach window. Raises TurnLost when the server lost the turn."""
        log.info("re-attaching to turn %s after a dropped connection", turn.id)
        retrying = AsyncRetrying(
            # Only Codex's own failures are worth another try; TurnLost is final, and a
            # cancellation (a shutdown) must never be swallowed as "one more attempt".
            retry=retry_if_exception(
                lambda exc: isinstance(exc, CodexError) and not isinstance(exc, TurnLost)
            ),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0),
            stop=stop_after_delay(self.settings.codex_reattach_seconds),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attached = await turn.thread.attach_turn(turn.id)
        except TurnLost:
            raise
        except CodexError as exc:
            log.warning("could not re-attach to turn %s: %s", turn.id, exc)
            return None
        self.metrics.reattached.inc()
        return attached

    def _final_text(self, result: TurnResult, *, stopped_by: str | None = None) -> str:
        if result.status == "completed":
            return result.final_text
        if result.status == "interrupted":
            return render.interrupted(result.final_text, stopped_by=stopped_by)
        message = result.error.message if result.error is not None else "unknown error"
        return render.failed(result.final_text, message)

    # -- helpers --

    async def _say(self, thread: SlackThread, text: str) -> None:
        with contextlib.suppress(*_SLACK_FAILURES):
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
        for task in [*self._tasks, *self._background]:
            task.cancel()
        for task in [*self._tasks, *self._background]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

"""One job: a queued mention becomes a Codex turn whose answer streams into a Slack reply.

:class:`TurnRunner` runs a :class:`bot.store.Job` from wherever it stands, which is what lets
another replica finish a job: it opens the reply (or reuses the reply's messages), starts
the turn (or finds the one already sent, or re-attaches to the recorded one), streams it into
the reply (:mod:`bot.streaming`), follows it across dropped Codex connections, and ends on the
exact final text, a failure line, or "the turn was lost" with a Run again button. Each step is
written to the job first, fenced on ``owner``: a runner whose job another replica took stops
without another write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

import redis.exceptions
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from bot import render
from bot.attachments import Attachments, Fetched
from bot.config import Settings
from bot.context import ThreadContext
from bot.diffs import share_diff
from bot.lanes import Lanes
from bot.mentions import Mention, client_message_id
from bot.metrics import Metrics
from bot.native_stream import StreamRules, TaskStatus
from bot.replies import post_notice
from bot.store import Job, Store, ThreadRecord
from bot.streaming import NativeGate, ReplyProgress, ReplyStream, StreamLimits
from codex_client import (
    AgentMessageDelta,
    AgentMessageItem,
    CodexError,
    CodexPool,
    ConnectionLost,
    ItemCompleted,
    ItemStarted,
    OtherNotification,
    ThreadHandle,
    TurnEvent,
    TurnHandle,
    TurnLost,
    TurnResult,
)

log = logging.getLogger(__name__)

ASK_FLAG = "features.default_mode_request_user_input"


class TurnObserver(Protocol):
    """Sees every event of the turns run here (the approvals need file-change items and turn
    ends). Called inline, on the turn's reader: must not block."""

    def __call__(self, event: TurnEvent) -> None: ...


class TurnRunner:
    """Runs jobs for one replica (``owner``); see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        pool: CodexPool,
        store: Store,
        slack: AsyncWebClient,
        lanes: Lanes,
        owner: str,
        metrics: Metrics,
        observer: TurnObserver | None = None,
        context: ThreadContext | None = None,
        attachments: Attachments | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.slack = slack
        self.owner = owner
        self.metrics = metrics
        self.observer = observer
        self.lanes = lanes
        self.context = context
        self.attachments = attachments
        self._diffs: dict[str, str] = {}
        """The latest ``turn/diff/updated`` of each reply being streamed (by stream id)."""
        self.native_gate = NativeGate()
        self.limits = StreamLimits(
            final_retry_seconds=settings.slack_retry_seconds,
            first_post_delay=settings.slack_first_post_seconds,
            stream_rules=StreamRules(rotate_seconds=settings.slack_stream_rotate_seconds),
        )

    async def run(self, job: Job, *, taken_over: bool = False) -> None:
        """Run ``job`` to its end: the reply shows the final text, or says what happened.

        ``taken_over``: the job comes from a replica that died or left, so its turn may have
        been sent already. Cancelled (a shutdown's hand-over), it leaves the job as it is.
        """
        mention = Mention.from_json(job.mention)
        thread = mention.thread
        stream = self._reply_stream(job, mention)
        try:
            final, rerun = await self._final_of(job, mention, stream, taken_over=taken_over)
            if final is None:
                await stream.abandon()
                return
            await stream.finish(final, rerun_value=rerun)
            self._count_delivery(stream)
            if (diff := self._diffs.pop(stream.stream_id, "")) and not stream.superseded:
                await share_diff(
                    self.slack,
                    channel=thread.channel,
                    thread_ts=thread.thread_ts,
                    diff=diff,
                    name=f"codex-changes-{mention.ts.replace('.', '-')}",
                    max_bytes=self.settings.diff_max_bytes,
                )
        except asyncio.CancelledError:
            await stream.abandon()
            raise
        except Exception as exc:
            # Whatever broke, the reply must not stay "Thinking…" with a live Stop button.
            log.exception("turn failed inside the bot", extra=thread.log_fields)
            await stream.finish(render.failed("", f"internal error ({type(exc).__name__})"))
        finally:
            self._diffs.pop(stream.stream_id, None)  # a turn that failed never shared its diff
        if not stream.superseded:
            await self.store.finish_job(thread.key, self.owner)

    def _count_delivery(self, stream: ReplyStream) -> None:
        stats = stream.stats
        if not stream.delivered:
            return
        delivery = "native" if stats.native_calls else "edit"
        self.metrics.replies.labels(delivery, "posted" if stats.final_posted else "in_place").inc()
        if stats.native_fallback is not None:
            self.metrics.native_fallbacks.labels(stats.native_fallback).inc()

    def _reply_stream(self, job: Job, mention: Mention) -> ReplyStream:
        """The job's reply: the messages it already has, or none yet (a new reply opens
        itself: the thread's status first, then its first text as a post or a native stream;
        see :mod:`bot.streaming`)."""
        thread = mention.thread
        messages = list(job.messages)

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
            budget=self.lanes.budget("chat.update"),
            team=thread.team,
            channel=thread.channel,
            thread_ts=thread.thread_ts,
            first_ts=messages[0] if messages else None,
            more_ts=messages[1:],
            # Unique per job (a job's mention ts is), whether or not it has a message yet.
            stream_id=f"{thread.key}:{messages[0] if messages else mention.ts}",
            limits=self.limits,
            stop_value=thread.key,
            placeholder=None,  # what the reply's messages show is in the job, not known here
            progress=record,
            log_fields=thread.log_fields,
            lanes=self.lanes,
            delivery=self.settings.slack_delivery,
            recipient=mention.user,
            native_gate=self.native_gate,
            show_status=self.settings.slack_thread_status,
        )
        if job.item_id:
            stream.restore(job.item_id, job.text)
        return stream

    async def _final_of(
        self, job: Job, mention: Mention, stream: ReplyStream, *, taken_over: bool
    ) -> tuple[str | None, str | None]:
        """The job's final text (None: the job is another replica's now) and, for a turn
        that was lost, the value of a "Run again" button."""
        thread = mention.thread
        if job.final is not None:
            return job.final, None  # the turn had ended; Slack had not shown it yet
        try:
            turn = await self._turn_of(job, mention, stream.first_ts or "", taken_over=taken_over)
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
            effort = self.settings.channel_policy(thread.channel).effort
            turn = await handle.start_turn(
                await self._input_of(mention),
                clientUserMessageId=client_id,
                **({"effort": effort} if effort else {}),
            )
            self.metrics.turns.labels("started").inc()
            if self.context is not None:
                with contextlib.suppress(redis.exceptions.RedisError):
                    await self.context.covered(
                        thread.team, thread.channel, thread.thread_ts, mention.ts
                    )
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

    async def _input_of(self, mention: Mention) -> str | list[dict[str, str]]:
        """The turn's input: what the thread said that Codex has not seen, the mention, and
        the files attached to either (a line in the thread for each file left out)."""
        context, files = "", list(mention.files)
        if self.context is not None:
            context, context_files = await self.context.block(
                mention.team, mention.channel, mention.thread_ts, mention.ts
            )
            files = context_files + files
        fetched = Fetched()
        if self.attachments is not None and files:
            fetched = await self.attachments.fetch(mention.thread.key, files)
            if fetched.problems:
                await post_notice(
                    self.slack,
                    mention.channel,
                    mention.thread_ts,
                    "\n".join(fetched.problems),
                    log_fields=mention.thread.log_fields,
                )
        if not context and not fetched.images and not fetched.texts:
            return mention.text
        items = [{"type": "text", "text": f"{context}\n\n"}] if context else []
        items.append({"type": "text", "text": mention.text})
        if listing := fetched.prompt_lines():
            items.append({"type": "text", "text": f"\n\n{listing}"})
        items += [{"type": "localImage", "path": path} for path in fetched.images]
        return items

    async def _codex_thread(self, mention: Mention) -> ThreadHandle:
        thread = mention.thread
        record = await self.store.get_thread(thread.team, thread.channel, thread.thread_ts)
        if record is not None:
            # The pool resumes the thread on its first turn through this connection.
            return self.pool.thread(record.codex_thread_id, endpoint_key=record.endpoint_key)
        policy = self.settings.channel_policy(thread.channel)
        # Codex 0.171 offers request_user_input outside Plan mode only with this flag: the
        # bot can show its questions (bot.questions), so its threads turn it on.
        extra: dict[str, Any] = (
            {"config": {ASK_FLAG: True}} if self.settings.codex_questions else {}
        )
        handle = await self.pool.start_thread(
            model=policy.model,
            cwd=policy.cwd,
            approval_policy=policy.approval_policy,
            sandbox=policy.sandbox,
            **extra,
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
        stream.on_user_stop = lambda: self._stopped_in_slack(turn, stream)
        stream.start()
        self.metrics.active_streams.inc()
        try:
            while True:
                try:
                    async for event in turn.events():
                        if stream.superseded:
                            return None
                        self._show(event, stream)
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
        stats = stream.stats
        if stats.first_delta_at is not None and stats.first_visible_at is not None:
            self.metrics.first_text_seconds.observe(
                max(0.0, stats.first_visible_at - stats.first_delta_at)
            )
        self.metrics.turns.labels(result.status).inc()
        stopped_by = None
        if result.status == "interrupted":
            with contextlib.suppress(redis.exceptions.RedisError):
                stopped_by = await self.store.stopped_by(turn.thread_id, turn.id)
        return self._final_text(result, stopped_by=stopped_by)

    def _show(self, event: TurnEvent, stream: ReplyStream) -> None:
        """Feed one turn event to the observer and to the reply (synchronously: the reply's
        own task turns its state into Slack edits)."""
        if self.observer is not None:
            self.observer(event)
        if isinstance(event, AgentMessageDelta):
            self.metrics.deltas.inc()
            stream.add_delta(event.item_id, event.delta)
        elif isinstance(event, ItemStarted):
            line = render.activity(event.item)
            stream.set_activity(line)
            if line is not None:
                stream.task(event.item.id, line, "in_progress")
        elif isinstance(event, ItemCompleted):
            if isinstance(event.item, AgentMessageItem):
                stream.complete_item(event.item.id, event.item.text or "")
            elif (line := render.activity(event.item)) is not None:
                status = getattr(event.item, "status", "completed")
                stream.task(event.item.id, line, "complete" if status == "completed" else "error")
            stream.set_activity(None)
        elif isinstance(event, OtherNotification) and event.method == "turn/plan/updated":
            _show_plan(event.params, stream)
        elif isinstance(event, OtherNotification) and event.method == "turn/diff/updated":
            diff = event.params.get("diff")
            if isinstance(diff, str):
                self._diffs[stream.stream_id] = diff

    async def _stopped_in_slack(self, turn: TurnHandle, stream: ReplyStream) -> None:
        """The recipient pressed Stop on the native stream: interrupt the turn, as the Stop
        button does (the turn's last line names them)."""
        user = stream.recipient or ""
        with contextlib.suppress(redis.exceptions.RedisError):
            await self.store.set_stopper(turn.thread_id, turn.id, user)
        try:
            await turn.thread.interrupt(turn.id)
        except CodexError as exc:
            log.info("interrupting a turn stopped in Slack failed: %s", type(exc).__name__)

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


_PLAN_STATUS: dict[str, TaskStatus] = {
    "pending": "pending",
    "inProgress": "in_progress",
    "completed": "complete",
}


def _show_plan(params: dict[str, object], stream: ReplyStream) -> None:
    """Codex's plan (``turn/plan/updated``) as a plan with one task per step."""
    explanation = params.get("explanation")
    stream.plan(explanation if isinstance(explanation, str) and explanation else "Plan")
    steps = params.get("plan")
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if isinstance(step, dict) and isinstance(step.get("step"), str):
            status = _PLAN_STATUS.get(str(step.get("status")), "pending")
            stream.task(f"plan-{index}", step["step"], status)

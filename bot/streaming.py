"""The Slack reply of one turn: deltas in, Slack writes out, ending on the exact final text.

A :class:`ReplyStream` owns the bot's reply to one turn. Codex events update its in-memory
state synchronously (cheap, so the client's reader never waits on Slack); one background task
turns that state into Slack calls, each through its method's budget (:mod:`bot.lanes`, shared
by all replies and replicas):

- **Opening.** A reply with no message yet shows the thread's status ("is thinking…", or the
  command being run) until the first text arrives, then opens with that text: a native stream
  (:mod:`bot.native_stream`) when the delivery allows one and the start lane has a token, else
  a posted message. A turn silent for ``first_post_delay`` gets a placeholder with Stop.
- **Native streaming.** Text is appended (never rewritten); tool runs and the plan become task
  chunks. When Slack ends a stream (expiry, ``msg_too_long``, a conflict, a failed call) or
  the text stops extending what it shows, the reply goes on by edits of the same messages,
  closed first; ``stopped_by_user`` also calls ``on_user_stop`` (the turn is interrupted).
- **Edits.** Deltas are coalesced: an edit shows whatever text has arrived when it is sent, so
  a burst of deltas costs one ``chat.update``. On HTTP 429 the lane backs off for
  ``Retry-After``; an intermediate frame is then skipped (the next carries newer text), the
  final one never is. Slack's bad minutes (5xx, timeouts, dropped connections) skip frames
  too; the final text is retried for a bounded window (:mod:`bot.slack_errors`), and a message
  someone deleted meanwhile is replaced by a new one. Text longer than one message rolls over
  into continuation messages; cutting is lossless, so the messages read back to back are
  exactly the agent's text.
- **Progress.** After every write Slack accepted, the reply's messages and the text they show
  go to a :class:`ProgressSink`, the record another replica resumes from; a sink that answers
  False means another replica owns the reply now, and the stream stops at once.
- **The final text** (from ``item/completed``, not the concatenated deltas, followed by a status
  line only when the turn failed or was stopped) is the last write of every message it shows,
  whatever lane carried it. It never waits behind other replies: when neither a stop nor an
  edit can carry it within ``final_edit_wait``, it is posted as new message(s) and the partial
  reply closed and deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import redis.exceptions
from slack_sdk.web.async_client import AsyncWebClient

from bot import render, slack_errors
from bot.lanes import Lane, Lanes
from bot.native_stream import (
    NativeStream,
    StreamEnded,
    StreamRefused,
    StreamRules,
    StreamThrottled,
    TaskStatus,
)

log = logging.getLogger(__name__)


class EditBudget(Protocol):
    """What a stream needs from the workspace's ``chat.update`` budget."""

    async def acquire(self, team: str, stream_id: str, *, final: bool) -> float:
        """Take a token: 0 when the edit may go now, else seconds to wait before asking again."""

    async def block_until(self, team: str, retry_after: float) -> object:
        """Pause every stream of the workspace after Slack answered 429."""

    async def release(self, team: str, stream_id: str) -> None:
        """Forget a finished stream, so the others get its share."""


@dataclass(frozen=True)
class ReplyProgress:
    """What Slack shows of a reply: its messages, and the agent text of the newest item."""

    messages: list[str]
    item_id: str | None
    text: str


class ProgressSink(Protocol):
    """Where a stream records its progress; returns False once the reply is not its own."""

    async def __call__(self, progress: ReplyProgress) -> bool: ...


@dataclass(frozen=True)
class StreamLimits:
    """How a reply is cut, paced and retried."""

    message_chars: int = render.MESSAGE_CHARS
    """Characters per Slack message before rolling over (the markdown block holds 12,000)."""
    final_retry_seconds: float = 300.0
    """How long the final text is retried while Slack fails (5xx, timeouts, 429s)."""
    final_edit_wait: float = 2.0
    """The longest a final text waits for an edit token; past it, the final is posted as new
    message(s) in the thread (``chat.postMessage`` has its own, per-channel window) and the
    partial reply is deleted, so a finished answer never queues behind other replies' edits."""
    first_post_delay: float = 0.0
    """For a reply with no message yet: how long to wait for the first text (showing the
    thread's status meanwhile) before posting a placeholder anyway, so Stop is at hand."""
    stream_rules: StreamRules = field(default_factory=StreamRules)
    """When a native stream message is rotated."""


Delivery = Literal["auto", "native", "edit"]
"""How a reply streams: ``native`` streams (``chat.startStream``…) where Slack takes them,
``edit`` (a posted message edited with ``chat.update``), or ``auto``: native when the
workspace accepts streams and the start lane has a token at once, else edit."""


class NativeGate:
    """Remembers the workspaces that refused native streams (auto mode stops trying there)."""

    def __init__(self) -> None:
        self.refused: dict[str, str] = {}

    def allows(self, team: str) -> bool:
        return team not in self.refused

    def refuse(self, team: str, why: str) -> None:
        if team not in self.refused:
            log.warning("Slack refused native streams in %s (%s); replies use edits", team, why)
        self.refused[team] = why


_NOT_REFUSALS = frozenset({"ratelimited", "no chat.startStream token in time"})
"""Why a stream did not open that says nothing about the workspace's support for streams."""


@dataclass
class StreamStats:
    """What a stream did, for metrics and benchmarks."""

    edits: int = 0
    posts: int = 0
    rate_limited: int = 0
    skipped_frames: int = 0
    slack_failures: int = 0
    final_posted: bool = False
    """The final text went out as new message(s) instead of edits."""
    first_delta_at: float | None = None
    first_edit_at: float | None = None
    first_visible_at: float | None = None
    """When the agent's text first showed, by whatever lane."""
    native_calls: int = 0
    native_fallback: str | None = None
    """Why a native stream gave way to edits (None when it did not)."""


@dataclass
class ReplyStream:
    """The Slack message(s) showing one turn; create, :meth:`start`, feed, :meth:`finish`."""

    slack: AsyncWebClient
    budget: EditBudget
    team: str
    channel: str
    thread_ts: str
    first_ts: str | None
    """The reply's first message; None when it has none yet (posted with the first text)."""
    stream_id: str
    limits: StreamLimits = field(default_factory=StreamLimits)
    stop_value: str | None = None
    """When set, intermediate frames carry a Stop button whose value is this."""
    placeholder: str | None = render.THINKING
    """What the first message shows when the stream is created (with the Stop button when
    ``stop_value`` is set): a frame identical to it is not sent, so it costs no edit. None
    when unknown (a reply taken over from another replica): the first frame is then sent."""
    more_ts: Sequence[str] = ()
    """Continuation messages the reply already has (a reply taken over mid-stream)."""
    progress: ProgressSink | None = None
    log_fields: Mapping[str, str] = field(default_factory=dict)
    """The ids every log line about this reply carries (team, channel, thread…)."""
    clock: Callable[[], float] = time.monotonic
    stats: StreamStats = field(default_factory=StreamStats)
    lanes: Lanes | None = None
    """Every Slack method's budget (the delivery scheduler); None: edits through ``budget``."""
    delivery: Delivery = "edit"
    recipient: str | None = None
    """Who a native stream is for (the mention's author; Slack requires one in channels)."""
    native_gate: NativeGate | None = None
    show_status: bool = False
    """Set the thread's status ("is thinking…") while the reply shows nothing."""
    on_user_stop: Callable[[], Awaitable[None]] | None = None
    """Called when the recipient stopped the native stream in Slack (``stopped_by_user``)."""

    def __post_init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._latest_item: str | None = None
        self._activity: str | None = None
        self._dirty = asyncio.Event()
        self._finished = asyncio.Event()
        self._final: str | None = None
        self._rerun_value: str | None = None
        self._final_posts: list[tuple[str, str]] | None = None
        """Messages of a final being posted anew (ts, shown key), kept across retries."""
        self._messages: list[str] = (
            [self.first_ts, *self.more_ts] if self.first_ts is not None else []
        )
        self._order: list[str] = []
        """Agent message items in the order they started (a native stream shows them all)."""
        self._native: NativeStream | None = None
        self._tasks: dict[str, tuple[str, TaskStatus]] = {}
        """Tool runs and plan steps so far, replayed into a native stream when it opens."""
        self._plan_title: str | None = None
        self._status_works = self.show_status and self.lanes is not None
        self._shown: list[str | None] = [None] * len(self._messages)
        if self.placeholder is not None and self._messages:
            # Known from the start: an item starting before any text (Codex's own
            # `userMessage` item comes first) would otherwise re-send the placeholder,
            # spending a Tier 3 token and, through the fair share, delaying the first edit.
            first = render.reply_blocks(self.placeholder, stop_value=self.stop_value)
            self._shown[0] = _key(self.placeholder, first)
        self._task: asyncio.Task[None] | None = None
        self.superseded = False
        """True once the progress sink said another replica owns the reply."""
        self.delivered = False
        """True once Slack showed the final text."""

    # -- feeding (synchronous, called from the event loop of the turn) --

    def add_delta(self, item_id: str, delta: str) -> None:
        """Append streamed text to one agent message item."""
        if self.stats.first_delta_at is None:
            self.stats.first_delta_at = self.clock()
        if item_id not in self._texts:
            self._order.append(item_id)
        self._texts[item_id] = self._texts.get(item_id, "") + delta
        self._latest_item = item_id
        self._dirty.set()

    def complete_item(self, item_id: str, text: str) -> None:
        """The authoritative text of a finished agent message item."""
        if item_id not in self._texts:
            self._order.append(item_id)
        self._texts[item_id] = text
        self._latest_item = item_id
        self._dirty.set()

    def restore(self, item_id: str, text: str) -> None:
        """Continue from what Slack already shows of an item (a reply taken over)."""
        if item_id not in self._texts:
            self._order.append(item_id)
        self._texts[item_id] = text
        self._latest_item = item_id

    def set_activity(self, line: str | None) -> None:
        """A compact line about what the agent is doing (``running `pytest```)."""
        self._activity = line
        self._dirty.set()

    def task(self, task_id: str, title: str, status: TaskStatus) -> None:
        """A tool run or plan step; a native stream shows it in Slack's timeline (edit mode
        shows the activity line instead)."""
        self._tasks[task_id] = (title, status)
        if self._native is not None:
            self._native.task(task_id, title, status)
            self._dirty.set()

    def plan(self, title: str) -> None:
        """The title of Codex's plan, shown above its steps on a native stream."""
        self._plan_title = title
        if self._native is not None:
            self._native.plan(title)
            self._dirty.set()

    def native_text(self) -> str:
        """What a native stream shows: every agent message of the turn, in order."""
        return "\n\n".join(text for item in self._order if (text := self._texts[item]))

    def _has_text(self) -> bool:
        return any(self._texts.values())

    def streaming_text(self) -> str:
        """What an intermediate frame shows: the newest agent text and the current activity."""
        text = self._texts.get(self._latest_item, "") if self._latest_item else ""
        if self._activity:
            text = f"{text}\n\n_{self._activity}_" if text else f"_{self._activity}_"
        return text or render.THINKING

    # -- lifecycle --

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reply-stream-{self.stream_id}")

    async def finish(self, final_text: str, *, rerun_value: str | None = None) -> bool:
        """Show ``final_text`` exactly (never skipped), then stop streaming; with a "Run
        again" button carrying ``rerun_value`` when given.

        True once Slack shows it; False when Slack refused it for good, kept failing for the
        whole retry window, or another replica took the reply over.
        """
        self._final = final_text
        self._rerun_value = rerun_value
        self._finished.set()
        self._dirty.set()
        if self._task is None:
            self.start()
        assert self._task is not None
        try:
            await self._task
        finally:
            await self._release()
        return self.delivered

    async def _release(self) -> None:
        await self.budget.release(self.team, self.stream_id)
        if self.lanes is not None:
            await self.lanes.release(self.team, self.channel, self.stream_id)

    async def abandon(self) -> None:
        """Stop streaming without a final frame: the reply is handed to another replica."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._release()

    # -- the edit loop --

    async def _run(self) -> None:
        try:
            await self._loop()
        except _Superseded:
            self.superseded = True
            log.warning("another replica took over reply %s", self.stream_id, extra=self._fields)

    async def _loop(self) -> None:
        if not self._messages:
            await self._open()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self._final is not None:
                await self._show_final(self._final)
                return
            try:
                if self._native is not None and self._native.open:
                    await self._stream_native()
                else:
                    await self._show(self.streaming_text(), final=False)
            except _Throttled as throttled:
                # Not this stream's turn yet: let more text coalesce, then ask again.
                self._dirty.set()
                await self._pause(throttled.delay)
            except _FrameSkipped:
                self.stats.skipped_frames += 1
                self._dirty.set()

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, but wake at once when the final text arrives."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), seconds)

    @property
    def _fields(self) -> dict[str, str]:
        return {**self.log_fields, "reply_ts": self._messages[0] if self._messages else ""}

    # -- the first message: status first, then the first text as a post or a stream --

    async def _open(self) -> None:
        """Show the status until there is text (or ``first_post_delay`` passed), then open
        the reply with it: a native stream when allowed, else a posted message."""
        deadline = self.clock() + self.limits.first_post_delay
        status_shown: str | None = None
        while self._final is None and not self._has_text():
            status = f"is {self._activity}…" if self._activity else "is thinking…"
            if status != status_shown:
                await self._set_status(status)
                status_shown = status
            left = deadline - self.clock()
            if left <= 0:
                break
            self._dirty.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), left)
        self._dirty.set()
        if self._final is not None:
            return  # the final text is the first message: posted by the final path
        if self._native_allowed():
            native = NativeStream(
                slack=self.slack,
                lanes=self.lanes,  # type: ignore[arg-type]  # checked by _native_allowed
                team=self.team,
                channel=self.channel,
                thread_ts=self.thread_ts,
                reply_id=self.stream_id,
                recipient_user=self.recipient or "",
                rules=self.limits.stream_rules,
                log_fields=self.log_fields,
                clock=self.clock,
            )
            # What the agent did before its first text opens the stream's timeline.
            if self._plan_title is not None:
                native.plan(self._plan_title)
            for task_id, (title, status) in self._tasks.items():
                native.task(task_id, title, status)
            wait = self.limits.final_edit_wait if self.delivery == "native" else 0.0
            try:
                await native.start(self.native_text(), wait=wait)
            except StreamRefused as refused:
                if self.native_gate is not None and refused.why not in _NOT_REFUSALS:
                    self.native_gate.refuse(self.team, refused.why)
            else:
                self._native = native
                self._adopt(native)
                self._visible()
                await self._record()
                return
        try:
            await self._show(self.streaming_text(), final=False)
        except _FrameSkipped:
            self.stats.skipped_frames += 1  # the next frame posts it

    def _native_allowed(self) -> bool:
        if self.lanes is None or self.delivery == "edit" or self.recipient is None:
            return False
        return self.native_gate is None or self.native_gate.allows(self.team)

    async def _set_status(self, status: str) -> None:
        """Show the thread's status line, if its lane has a token now (it is only a hint)."""
        if not self._status_works or self.lanes is None:
            return
        lane: Lane = "assistant.threads.setStatus"
        if not await self.lanes.take(lane, self.team, self.channel, self.stream_id, within=0.0):
            return  # a hint is skipped, never waited for
        try:
            await self.slack.assistant_threads_setStatus(
                channel_id=self.channel, thread_ts=self.thread_ts, status=status
            )
        except slack_errors.FAILURES as exc:
            await self.lanes.back_off(lane, self.team, self.channel, exc)
            kind = slack_errors.classify(exc)
            if kind == "permanent":
                self._status_works = False  # e.g. a missing scope: the placeholder will do
            log.info(
                "could not set the thread's status (%s)",
                slack_errors.error_code(exc) or kind,
                extra=self._fields,
            )

    def _visible(self) -> None:
        if self.stats.first_visible_at is None and self._has_text():
            self.stats.first_visible_at = self.clock()

    # -- native streaming --

    async def _stream_native(self) -> None:
        native = self._native
        assert native is not None
        text = self.native_text()
        if not text.startswith(native.total):
            # An item's final text differs from its deltas: a stream cannot take text back.
            await self._leave_native("rewritten")
            return
        try:
            await native.append(text)
        except StreamThrottled as throttled:
            raise _Throttled(throttled.delay) from None
        except (StreamEnded, StreamRefused) as ended:
            await self._leave_native(ended.why)
            return
        finally:
            self.stats.native_calls = native.calls
        self._adopt(native)
        self._visible()
        await self._record()

    async def _leave_native(self, why: str) -> None:
        """Go on by edits on the stream's messages (closed first: Slack refuses to edit a
        message that is still streaming). The next frame shows the whole text again."""
        native = self._native
        assert native is not None
        self._native = None
        self.stats.native_fallback = why
        log.info("reply %s goes on by edits (%s)", self.stream_id, why, extra=self._fields)
        if native.stopped_by_user and self.on_user_stop is not None:
            await self.on_user_stop()
        if native.open:
            with contextlib.suppress(StreamEnded):
                await native.stop(wait=self.limits.final_retry_seconds)
        self._adopt(native)
        self._dirty.set()

    def _adopt(self, native: NativeStream) -> None:
        """The reply's messages are the stream's, showing what it sent (no buttons)."""
        self._messages, self._shown = list(native.messages), list(native.sent)
        self.stats.native_calls = native.calls

    async def _finish_native(self, text: str) -> bool:
        """Close the native stream on the exact final text; True when the thread shows it.

        When the stream shows a beginning of the text, the stop carries what fits of the
        rest and any more is posted after it, cut where the stream was cut (so nothing shown
        is edited again). Else the stream is closed and the final text edited in (False).
        Raises :class:`_PostInstead` when the stop lane has no token within
        ``final_edit_wait``.
        """
        native = self._native
        assert native is not None
        if native.open and text.startswith(native.total):
            rest = text[len(native.total) :]
            room = max(0, self.limits.stream_rules.message_chars - len(native.sent[-1]))
            fits, more = rest[:room], rest[room:]
            blocks = None
            if self._rerun_value is not None and not more:
                blocks = render.reply_blocks("", rerun_value=self._rerun_value)[1:]
            ended = await self._close_for_final(native, fits, blocks)
            if ended is not None:
                await self._leave_native(ended)
                return False
            self._native = None
            self._adopt(native)
            chunks = render.split_message(more, self.limits.message_chars) if more else []
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                rerun = self._rerun_value if last else None
                await self._post(chunk, render.reply_blocks(chunk, rerun_value=rerun), final=True)
            await self._record()
            return True
        if native.open:
            await self._close_for_final(native)
        await self._leave_native("final text differs from the stream")
        return False

    async def _close_for_final(
        self, native: NativeStream, suffix: str = "", blocks: list[dict[str, Any]] | None = None
    ) -> str | None:
        """Stop the stream (with ``suffix`` and ``blocks``) for the final text: None once
        stopped, else why it had ended already. Raises :class:`_PostInstead` when the stop
        cannot happen now (no token within ``final_edit_wait``, or Slack failed it): the
        final does not wait for the stop lane; it is posted, and the stream closed after."""
        try:
            if not await native.stop(suffix, blocks=blocks, wait=self.limits.final_edit_wait):
                raise _PostInstead
        except StreamEnded as ended:
            if native.open:
                raise _PostInstead from ended
            return ended.why
        return None

    async def _show_final(self, text: str) -> None:
        try:
            async for attempt in slack_errors.retrying(self.limits.final_retry_seconds):
                with attempt:
                    await self._show_final_once(text)
        except slack_errors.FAILURES as exc:
            log.error(
                "Slack did not take the final text of reply %s (%s): %s",
                self.stream_id,
                slack_errors.classify(exc),
                slack_errors.error_code(exc) or type(exc).__name__,
                extra=self._fields,
            )
            return
        self.delivered = True

    async def _show(self, text: str, *, final: bool) -> None:
        chunks = render.split_message(text, self.limits.message_chars)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            blocks = render.reply_blocks(
                chunk,
                stop_value=None if final or not last else self.stop_value,
                rerun_value=self._rerun_value if final and last else None,
            )
            if index < len(self._messages):
                if self._shown[index] == _key(chunk, blocks):
                    continue
                await self._edit(index, chunk, blocks, final=final)
            else:
                await self._post(chunk, blocks, final=final)
        if final:
            for ts in self._messages[len(chunks) :]:
                await self._lane_token("chat.delete")
                with contextlib.suppress(*slack_errors.FAILURES):
                    await self.slack.chat_delete(channel=self.channel, ts=ts)
            del self._messages[len(chunks) :]
            del self._shown[len(chunks) :]
            await self._record()

    async def _edit(
        self, index: int, chunk: str, blocks: list[dict[str, Any]], *, final: bool
    ) -> None:
        # The edit that first shows the agent's text (over a placeholder) is the one the user
        # waits for most: it asks with the finals' priority, though it never waits in place.
        first_text = not final and self.stats.first_visible_at is None and self._has_text()
        waited = 0.0
        while (
            delay := await self.budget.acquire(self.team, self.stream_id, final=final or first_text)
        ) > 0:
            if not final:
                raise _Throttled(delay)
            if waited + delay > self.limits.final_edit_wait:
                raise _PostInstead  # the edit lane is busy: the final goes out another way
            await asyncio.sleep(delay)  # a short wait for the edit lane
            waited += delay
        try:
            try:
                await self._update(index, chunk, blocks)
            except slack_errors.FAILURES as exc:
                if slack_errors.error_code(exc) != "streaming_state_conflict":
                    raise
                # A stream this replica did not open (a reply taken over mid-stream) or whose
                # stop was lost: close it, then the edit is allowed.
                await self._close_foreign_stream(self._messages[index])
                await self._update(index, chunk, blocks)
        except slack_errors.FAILURES as exc:
            if slack_errors.classify(exc) != "gone":
                await self._failed(exc, final=final)
                raise
            # Someone deleted the message: the reply goes on in a new one.
            log.warning("a message of reply %s was deleted", self.stream_id, extra=self._fields)
            self._messages[index] = await self._post_message(chunk, blocks, final=final)
        self._shown[index] = _key(chunk, blocks)
        self.stats.edits += 1
        if self.stats.first_edit_at is None:
            self.stats.first_edit_at = self.clock()
        self._visible()
        if not final:
            await self._record()

    async def _update(self, index: int, chunk: str, blocks: list[dict[str, Any]]) -> None:
        await self.slack.chat_update(
            channel=self.channel,
            ts=self._messages[index],
            text=render.fallback_text(chunk),
            blocks=blocks,
        )

    async def _close_foreign_stream(self, ts: str) -> None:
        await self._lane_token("chat.stopStream", final=True)
        try:
            await self.slack.chat_stopStream(channel=self.channel, ts=ts)
        except slack_errors.FAILURES as exc:
            if slack_errors.error_code(exc) != "message_not_in_streaming_state":
                raise

    async def _show_final_once(self, text: str) -> None:
        if self._final_posts is not None:
            await self._post_final(text)  # a final being posted anew is never edited over
            return
        try:
            if self._native is not None and await self._finish_native(text):
                return
            await self._show(text, final=True)
        except _PostInstead:
            await self._post_final(text)

    async def _post_final(self, text: str) -> None:
        """Show the final text as new message(s) in the thread, then delete the partial reply.

        Messages already posted by an earlier attempt are kept (a retry goes on from there).
        The record moves to the new messages before the old ones go, so a replica taking over
        in between finishes on the new ones.
        """
        chunks = render.split_message(text, self.limits.message_chars)
        if self._final_posts is None:
            self._final_posts = []
        posted = self._final_posts
        for index in range(len(posted), len(chunks)):
            chunk = chunks[index]
            last = index == len(chunks) - 1
            blocks = render.reply_blocks(chunk, rerun_value=self._rerun_value if last else None)
            posted.append(
                (await self._post_message(chunk, blocks, final=True), _key(chunk, blocks))
            )
        new = {ts for ts, _ in posted}
        stale = [ts for ts in self._messages if ts not in new]
        self._messages = [ts for ts, _ in posted]
        self._shown = [key for _, key in posted]
        self.stats.final_posted = True
        await self._record()
        native, self._native = self._native, None
        if native is not None and native.open:
            # Slack refuses to delete a message that is still streaming.
            with contextlib.suppress(StreamEnded):
                await native.stop(wait=self.limits.final_retry_seconds)
        for ts in stale:
            try:
                await self._lane_token("chat.delete")
                await self.slack.chat_delete(channel=self.channel, ts=ts)
            except slack_errors.FAILURES as exc:
                # The answer is complete below it; a partial left over is noise, not loss.
                log.warning(
                    "could not delete a partial reply (%s)",
                    slack_errors.error_code(exc) or type(exc).__name__,
                    extra=self._fields,
                )

    async def _post(self, chunk: str, blocks: list[dict[str, Any]], *, final: bool) -> None:
        self._messages.append(await self._post_message(chunk, blocks, final=final))
        self._shown.append(_key(chunk, blocks))
        if not final:
            await self._record()

    async def _lane_token(self, lane: Lane, *, final: bool = False) -> None:
        """Wait for a token of ``lane`` (no wait without lanes)."""
        if self.lanes is not None:
            await self.lanes.take(lane, self.team, self.channel, self.stream_id, final=final)

    async def _post_message(self, chunk: str, blocks: list[dict[str, Any]], *, final: bool) -> str:
        await self._lane_token("chat.postMessage", final=True)
        try:
            response = await self.slack.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts,
                text=render.fallback_text(chunk),
                blocks=blocks,
            )
        except slack_errors.FAILURES as exc:
            if self.lanes is not None:
                await self.lanes.back_off("chat.postMessage", self.team, self.channel, exc)
            await self._failed(exc, final=final, shared_budget=False)
            raise
        self.stats.posts += 1
        self._visible()
        return str(response["ts"])

    async def _failed(self, exc: BaseException, *, final: bool, shared_budget: bool = True) -> None:
        """Account for a failed call; an intermediate frame is then skipped (raised as
        :class:`_FrameSkipped`), a final one re-raised for :meth:`_show_final` to retry."""
        kind = slack_errors.classify(exc)
        if kind == "rate_limited":
            self.stats.rate_limited += 1
            if shared_budget:
                await self.budget.block_until(self.team, slack_errors.retry_after(exc) or 1.0)
        else:
            self.stats.slack_failures += 1
            log.warning(
                "Slack failed a %s frame of reply %s (%s): %s",
                "final" if final else "streaming",
                self.stream_id,
                kind,
                slack_errors.error_code(exc) or type(exc).__name__,
                extra=self._fields,
            )
        if not final:
            raise _FrameSkipped from exc

    async def _record(self) -> None:
        """Hand the progress to the sink; stop if the reply belongs to another replica now."""
        if self.progress is None:
            return
        item = self._latest_item
        progress = ReplyProgress(list(self._messages), item, self._texts.get(item or "", ""))
        try:
            mine = await self.progress(progress)
        except redis.exceptions.RedisError as exc:
            # The record lags behind until Redis is back; the reply itself goes on.
            log.warning("could not record reply progress: %s", exc, extra=self._fields)
            return
        if not mine:
            raise _Superseded


class _FrameSkipped(Exception):
    """This frame was not shown; the stream moves on to a newer one."""


class _Throttled(Exception):
    """The budget says this stream must wait ``delay`` seconds before its next edit."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


class _PostInstead(Exception):
    """The final cannot be edited in soon enough: post it as new message(s) instead."""


class _Superseded(Exception):
    """Another replica owns this reply now: stop without another write."""


def _key(chunk: str, blocks: list[dict[str, Any]]) -> str:
    buttons = [e.get("action_id") for b in blocks[1:] for e in b.get("elements", [])]
    return chunk + "".join(f"\x00{action}" for action in buttons)

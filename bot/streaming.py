"""The message stream of one turn: deltas in, Slack edits out, ending on the exact final text.

A :class:`ReplyStream` owns the bot's reply to one turn. Codex events update its in-memory
state synchronously (cheap, so the client's reader never waits on Slack); one background task
turns that state into ``chat.update`` calls:

- deltas are coalesced: an edit shows whatever text has arrived by the time it is sent, so a
  burst of deltas costs one edit;
- every edit takes a token from the workspace-wide budget (:mod:`bot.ratelimit`, shared by
  all streams and replicas, which also keeps a minimum interval per stream);
- on HTTP 429 the whole workspace backs off for ``Retry-After``; an intermediate frame is then
  skipped (the next one carries newer text anyway), the final one never is;
- Slack's bad minutes (5xx, timeouts, dropped connections) skip intermediate frames too; the
  final text is retried with backoff for a bounded window (:mod:`bot.slack_errors`), and a
  message someone deleted meanwhile is replaced by a new one;
- after every frame Slack accepted, the reply's progress (its messages and the text they show)
  goes to a :class:`ProgressSink`, the durable record another replica resumes from; a sink
  that answers False means another replica owns the reply now, and the stream stops at once;
- text longer than one message holds rolls over into continuation messages in the thread;
  cutting is lossless, so the messages read back to back are exactly the agent's text;
- the last edit shows the turn's final text (taken from ``item/completed``, not from the
  concatenated deltas), followed by a status line only when the turn failed or was stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.exceptions
from slack_sdk.web.async_client import AsyncWebClient

from bot import render, slack_errors

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


@dataclass
class ReplyStream:
    """The Slack message(s) showing one turn; create, :meth:`start`, feed, :meth:`finish`."""

    slack: AsyncWebClient
    budget: EditBudget
    team: str
    channel: str
    thread_ts: str
    first_ts: str
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
        self._messages: list[str] = [self.first_ts, *self.more_ts]
        self._shown: list[str | None] = [None] * len(self._messages)
        if self.placeholder is not None:
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
        self._texts[item_id] = self._texts.get(item_id, "") + delta
        self._latest_item = item_id
        self._dirty.set()

    def complete_item(self, item_id: str, text: str) -> None:
        """The authoritative text of a finished agent message item."""
        self._texts[item_id] = text
        self._latest_item = item_id
        self._dirty.set()

    def restore(self, item_id: str, text: str) -> None:
        """Continue from what Slack already shows of an item (a reply taken over)."""
        self._texts[item_id] = text
        self._latest_item = item_id

    def set_activity(self, line: str | None) -> None:
        """A compact line about what the agent is doing (``running `pytest```)."""
        self._activity = line
        self._dirty.set()

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
            await self.budget.release(self.team, self.stream_id)
        return self.delivered

    async def abandon(self) -> None:
        """Stop streaming without a final frame: the reply is handed to another replica."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.budget.release(self.team, self.stream_id)

    # -- the edit loop --

    async def _run(self) -> None:
        try:
            await self._loop()
        except _Superseded:
            self.superseded = True
            log.warning("another replica took over reply %s", self.stream_id, extra=self._fields)

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self._final is not None:
                await self._show_final(self._final)
                return
            try:
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
        return {**self.log_fields, "reply_ts": self.first_ts}

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
                with contextlib.suppress(*slack_errors.FAILURES):
                    await self.slack.chat_delete(channel=self.channel, ts=ts)
            del self._messages[len(chunks) :]
            del self._shown[len(chunks) :]
            await self._record()

    async def _edit(
        self, index: int, chunk: str, blocks: list[dict[str, Any]], *, final: bool
    ) -> None:
        waited = 0.0
        while (delay := await self.budget.acquire(self.team, self.stream_id, final=final)) > 0:
            if not final:
                raise _Throttled(delay)
            if waited + delay > self.limits.final_edit_wait:
                raise _PostInstead  # the edit lane is busy: the final goes out another way
            await asyncio.sleep(delay)  # a short wait for the edit lane
            waited += delay
        try:
            await self.slack.chat_update(
                channel=self.channel,
                ts=self._messages[index],
                text=render.fallback_text(chunk),
                blocks=blocks,
            )
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
        if not final:
            await self._record()

    async def _show_final_once(self, text: str) -> None:
        if self._final_posts is not None:
            await self._post_final(text)  # a final being posted anew is never edited over
            return
        try:
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
        for ts in stale:
            try:
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

    async def _post_message(self, chunk: str, blocks: list[dict[str, Any]], *, final: bool) -> str:
        try:
            response = await self.slack.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts,
                text=render.fallback_text(chunk),
                blocks=blocks,
            )
        except slack_errors.FAILURES as exc:
            await self._failed(exc, final=final, shared_budget=False)
            raise
        self.stats.posts += 1
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

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import render

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
class StreamLimits:
    """How a reply is cut and paced."""

    message_chars: int = render.MESSAGE_CHARS
    """Characters per Slack message before rolling over (the markdown block holds 12,000)."""
    max_final_attempts: int = 20
    """Attempts at the final edit before giving up on a Slack that keeps refusing it."""


@dataclass
class StreamStats:
    """What a stream did, for metrics and benchmarks."""

    edits: int = 0
    posts: int = 0
    rate_limited: int = 0
    skipped_frames: int = 0
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
    placeholder: str = render.THINKING
    """What the first message shows when the stream is created (with the Stop button when
    ``stop_value`` is set): a frame identical to it is not sent, so it costs no edit."""
    clock: Callable[[], float] = time.monotonic
    stats: StreamStats = field(default_factory=StreamStats)

    def __post_init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._latest_item: str | None = None
        self._activity: str | None = None
        self._dirty = asyncio.Event()
        self._finished = asyncio.Event()
        self._final: str | None = None
        self._messages: list[str] = [self.first_ts]
        # Known from the start: an item starting before any text (Codex's own `userMessage`
        # item comes first) would otherwise re-send the placeholder, spending a Tier 3 token
        # and, through the fair share, delaying the stream's first real edit.
        first = render.reply_blocks(self.placeholder, stop_value=self.stop_value)
        self._shown: list[str | None] = [_key(self.placeholder, first)]
        self._task: asyncio.Task[None] | None = None

    # -- feeding (synchronous, called from the event loop of the turn) --

    def add_delta(self, item_id: str, delta: str) -> None:
        """Append streamed text to one agent message item."""
        self._texts[item_id] = self._texts.get(item_id, "") + delta
        self._latest_item = item_id
        self._dirty.set()

    def complete_item(self, item_id: str, text: str) -> None:
        """The authoritative text of a finished agent message item."""
        self._texts[item_id] = text
        self._latest_item = item_id
        self._dirty.set()

    def set_activity(self, line: str | None) -> None:
        """A compact line about what the agent is doing (``running `pytest```)."""
        self._activity = line
        self._dirty.set()

    @property
    def message_ts(self) -> list[str]:
        """The ``ts`` of every message of this reply, first to last."""
        return list(self._messages)

    def streaming_text(self) -> str:
        """What an intermediate frame shows: the newest agent text and the current activity."""
        text = self._texts.get(self._latest_item, "") if self._latest_item else ""
        if self._activity:
            text = f"{text}\n\n_{self._activity}_" if text else f"_{self._activity}_"
        return text or render.THINKING

    # -- lifecycle --

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reply-stream-{self.stream_id}")

    async def finish(self, final_text: str) -> None:
        """Show ``final_text`` exactly (never skipped), then stop streaming."""
        self._final = final_text
        self._finished.set()
        self._dirty.set()
        if self._task is None:
            self.start()
        assert self._task is not None
        try:
            await self._task
        finally:
            await self.budget.release(self.team, self.stream_id)

    # -- the edit loop --

    async def _run(self) -> None:
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

    async def _show_final(self, text: str) -> None:
        for _ in range(self.limits.max_final_attempts):
            try:
                await self._show(text, final=True)
                return
            except _GiveUp as exc:
                log.error("Slack refused the final edit of stream %s: %s", self.stream_id, exc)
                return
            except _FrameSkipped:
                continue
        log.error("gave up on the final edit of stream %s", self.stream_id)

    async def _show(self, text: str, *, final: bool) -> None:
        chunks = render.split_message(text, self.limits.message_chars)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            blocks = render.reply_blocks(
                chunk, stop_value=None if final or not last else self.stop_value
            )
            if index < len(self._messages):
                if self._shown[index] == _key(chunk, blocks):
                    continue
                await self._edit(index, chunk, blocks, final=final)
            else:
                await self._post(chunk, blocks)
        if final:
            for ts in self._messages[len(chunks) :]:
                with contextlib.suppress(SlackApiError):
                    await self.slack.chat_delete(channel=self.channel, ts=ts)
            del self._messages[len(chunks) :]
            del self._shown[len(chunks) :]

    async def _edit(
        self, index: int, chunk: str, blocks: list[dict[str, Any]], *, final: bool
    ) -> None:
        while (delay := await self.budget.acquire(self.team, self.stream_id, final=final)) > 0:
            if not final:
                raise _Throttled(delay)
            await asyncio.sleep(delay)  # a final edit waits its turn in the budget; never dropped
        ts = self._messages[index]
        try:
            await self.slack.chat_update(
                channel=self.channel, ts=ts, text=render.fallback_text(chunk), blocks=blocks
            )
        except SlackApiError as exc:
            await self._on_slack_error(exc, final=final)
            raise _FrameSkipped from exc
        self._shown[index] = _key(chunk, blocks)
        self.stats.edits += 1
        if self.stats.first_edit_at is None:
            self.stats.first_edit_at = self.clock()

    async def _post(self, chunk: str, blocks: list[dict[str, Any]]) -> None:
        try:
            response = await self.slack.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts,
                text=render.fallback_text(chunk),
                blocks=blocks,
            )
        except SlackApiError as exc:
            await self._on_slack_error(exc, final=True, shared_budget=False)
            raise _FrameSkipped from exc
        self._messages.append(str(response["ts"]))
        self._shown.append(_key(chunk, blocks))
        self.stats.posts += 1

    async def _on_slack_error(
        self, exc: SlackApiError, *, final: bool, shared_budget: bool = True
    ) -> None:
        status = getattr(exc.response, "status_code", None)
        if status == 429:
            self.stats.rate_limited += 1
            retry_after = float(exc.response.headers.get("Retry-After", "1") or 1)
            if shared_budget:
                await self.budget.block_until(self.team, retry_after)
            if final:
                await asyncio.sleep(retry_after)  # Slack asked for exactly this pause
            return
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("Slack refused an edit of stream %s: %s", self.stream_id, error)
        if final:
            raise _GiveUp(str(error)) from exc


class _FrameSkipped(Exception):
    """This frame was not shown; the stream moves on to a newer one."""


class _Throttled(Exception):
    """The budget says this stream must wait ``delay`` seconds before its next edit."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


class _GiveUp(_FrameSkipped):
    """Slack refused the final frame for a reason waiting will not fix."""


def _key(chunk: str, blocks: list[dict[str, Any]]) -> str:
    return chunk + ("\x00stop" if len(blocks) > 1 else "")

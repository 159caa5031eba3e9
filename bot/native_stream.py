"""Slack's native streams for a reply: ``chat.startStream``, ``appendStream``, ``stopStream``.

:class:`NativeStream` keeps what each stream message shows, so the reply stays lossless:

- text is only ever appended: a call sends the part of the reply's text its messages do not
  show yet, and what Slack accepted is added to :attr:`NativeStream.sent`;
- a stream holds about 12,000 characters and lives about 5 minutes: before either, it is
  *rotated* (stopped with what still fits, and a new one started for the rest);
- a call whose effect is unknown (a timeout, a dropped connection) is never sent again: the
  stream raises :class:`StreamEnded` and the reply goes on by ``chat.update``, which replaces
  text and so cannot repeat it.

Every call takes a token from its own lane (:mod:`bot.lanes`). What the caller must do when
the stream cannot go on is said by the exception raised: :class:`StreamEnded` (go on by edits
on the same messages) or :class:`StreamRefused` (no stream could be opened: post instead).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from slack_sdk.web.async_client import AsyncWebClient

from bot import slack_errors
from bot.lanes import Lane, Lanes

log = logging.getLogger(__name__)

STOPPED_BY_USER: Final = "stopped_by_user"
TASK_TITLE_CHARS: Final = 256

TaskStatus = Literal["pending", "in_progress", "complete", "error"]


class StreamRefused(Exception):
    """Slack would not open a stream (a workspace without the feature, a refusal, no token
    in time); nothing was shown, so the reply posts a message instead."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class StreamEnded(Exception):
    """The stream message(s) take no more appends; :attr:`NativeStream.sent` is what they
    show, and the reply goes on by ``chat.update`` on them."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class StreamThrottled(Exception):
    """The lane has no token for this reply yet: ask again after :attr:`delay` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


@dataclass(frozen=True)
class StreamRules:
    """How long and how big one stream message may grow before it is rotated."""

    message_chars: int = 12_000
    rotate_seconds: float = 240.0
    """Slack closes a stream after about 5 minutes; rotating at 4 leaves room for a slow call."""


@dataclass
class NativeStream:
    """The native stream message(s) of one reply; see the module docstring."""

    slack: AsyncWebClient
    lanes: Lanes
    team: str
    channel: str
    thread_ts: str
    reply_id: str
    recipient_user: str
    rules: StreamRules = field(default_factory=StreamRules)
    log_fields: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.messages: list[str] = []
        """The stream messages, oldest first; all but the last are closed."""
        self.sent: list[str] = []
        """The text each message shows, in the same order."""
        self.open = False
        """Whether the last message is a stream still taking appends."""
        self.stopped_by_user = False
        self._opened_at = 0.0
        self._tasks: dict[str, dict[str, Any]] = {}
        self._unsent_tasks: list[str] = []
        self._plan_title: str | None = None
        self.calls = 0

    @property
    def total(self) -> str:
        """Everything the reply's stream messages show, read back to back."""
        return "".join(self.sent)

    # -- tasks (Codex's tool activity and plan, shown as Slack's timeline) --

    def task(self, task_id: str, title: str, status: TaskStatus) -> None:
        """Show (or update) one task; sent with the next append."""
        self._tasks[task_id] = {
            "type": "task_update",
            "id": task_id,
            "title": title[:TASK_TITLE_CHARS],
            "status": status,
        }
        if task_id not in self._unsent_tasks:
            self._unsent_tasks.append(task_id)

    def plan(self, title: str) -> None:
        """The plan's title (Codex's explanation of its steps); sent with the next append."""
        self._plan_title = title[:TASK_TITLE_CHARS]

    @property
    def has_unsent_tasks(self) -> bool:
        return bool(self._unsent_tasks) or self._plan_title is not None

    def _chunks(self, text: str = "") -> list[dict[str, Any]]:
        """The chunks of the next call: ``text``, then the plan and tasks not sent yet."""
        chunks: list[dict[str, Any]] = [{"type": "markdown_text", "text": text}] if text else []
        if self._plan_title is not None:
            chunks.append({"type": "plan_update", "title": self._plan_title})
        chunks.extend(self._tasks[task_id] for task_id in self._unsent_tasks)
        return chunks

    def _tasks_sent(self) -> None:
        self._plan_title = None
        self._unsent_tasks.clear()

    # -- the calls --

    async def start(self, text: str, *, wait: float) -> None:
        """Open the first (or next) stream message showing ``text``.

        Waits at most ``wait`` seconds for a ``chat.startStream`` token; raises
        :class:`StreamRefused` when there is none by then or Slack refuses the stream.
        """
        if not await self._token("chat.startStream", wait=wait, final=True):
            raise StreamRefused("no chat.startStream token in time")
        text = text[: self.rules.message_chars]
        chunks = self._chunks()
        try:
            response = await self.slack.chat_startStream(
                channel=self.channel,
                thread_ts=self.thread_ts,
                markdown_text=text or None,
                chunks=chunks or None,
                recipient_user_id=self.recipient_user,
                recipient_team_id=self.team,
            )
        except slack_errors.FAILURES as exc:
            await self._failed("chat.startStream", exc)
            raise StreamRefused(slack_errors.error_code(exc) or type(exc).__name__) from exc
        self.calls += 1
        self._tasks_sent()
        self.messages.append(str(response["ts"]))
        self.sent.append(text)
        self.open = True
        self._opened_at = self.clock()

    async def append(self, text: str) -> None:
        """Make the messages show ``text``, which must extend :attr:`total`; rotates as needed.

        Raises :class:`StreamThrottled` when the lane says wait, :class:`StreamEnded` when the
        stream takes no more (the caller edits from here), :class:`StreamRefused` when a
        rotation could not open the next stream (the caller posts the rest).
        """
        assert self.open
        assert text.startswith(self.total)
        suffix = text[len(self.total) :]
        room = self.rules.message_chars - len(self.sent[-1])
        too_old = self.clock() - self._opened_at >= self.rules.rotate_seconds
        if len(suffix) > room or too_old:
            await self._rotate(suffix[: max(0, room)] if not too_old else "", text)
            return
        if not suffix and not self.has_unsent_tasks:
            return
        delay = await self.lanes.acquire(
            "chat.appendStream", self.team, self.channel, self.reply_id
        )
        if delay > 0:
            raise StreamThrottled(delay)
        await self._call("chat.appendStream", chunks=self._chunks(suffix))
        self._tasks_sent()
        self.sent[-1] += suffix

    async def stop(
        self, suffix: str = "", *, blocks: Sequence[Mapping[str, Any]] | None = None, wait: float
    ) -> bool:
        """Close the open stream, adding ``suffix`` (and ``blocks`` below it).

        False when no ``chat.stopStream`` token came within ``wait`` seconds (nothing sent);
        raises :class:`StreamEnded` when the stream had ended already or the call failed.
        """
        assert self.open
        if not await self._token("chat.stopStream", wait=wait, final=True):
            return False
        blocks = list(blocks or []) or None
        await self._call("chat.stopStream", chunks=self._chunks(suffix), blocks=blocks)
        self._tasks_sent()
        self.sent[-1] += suffix
        self.open = False
        return True

    async def _rotate(self, fits: str, text: str) -> None:
        """Stop the open stream with ``fits``, then start the next one with the rest."""
        if not await self.stop(fits, wait=0.0):
            raise StreamThrottled(1.0)
        rest = text[len(self.total) :]
        await self.start(rest, wait=0.0)
        log.info("rotated the stream of reply %s", self.reply_id, extra=dict(self.log_fields))

    async def _call(self, method: Lane, **params: Any) -> None:
        ts = self.messages[-1]
        try:
            if method == "chat.appendStream":
                await self.slack.chat_appendStream(channel=self.channel, ts=ts, **params)
            else:
                await self.slack.chat_stopStream(channel=self.channel, ts=ts, **params)
        except slack_errors.FAILURES as exc:
            await self._failed(method, exc)
            code = slack_errors.error_code(exc)
            if code in ("message_not_in_streaming_state", STOPPED_BY_USER):
                self.open = False
            self.stopped_by_user = self.stopped_by_user or code == STOPPED_BY_USER
            # Any failure ends the streaming for this reply: after a timeout nobody knows
            # whether Slack applied the call, and an edit (which replaces) is the safe way on.
            raise StreamEnded(code or slack_errors.classify(exc)) from exc
        self.calls += 1

    async def _token(self, lane: Lane, *, wait: float, final: bool) -> bool:
        """Take a token of ``lane``, waiting at most ``wait`` seconds for it."""
        return await self.lanes.take(
            lane, self.team, self.channel, self.reply_id, final=final, within=wait
        )

    async def _failed(self, lane: Lane, exc: BaseException) -> None:
        await self.lanes.back_off(lane, self.team, self.channel, exc)
        log.warning(
            "Slack refused %s for reply %s (%s): %s",
            lane,
            self.reply_id,
            slack_errors.classify(exc),
            slack_errors.error_code(exc) or type(exc).__name__,
            extra=dict(self.log_fields),
        )

"""What a teammate would have read: the Slack thread around a mention, as text for Codex.

When the bot is mentioned in a thread, the turn's input starts with the thread's messages that
Codex has not seen: on the first turn of a Slack thread, everything before the mention; on a
later turn, what people posted since the previous turn without mentioning the bot (a mention
was a turn of its own). The bot's messages are never repeated back. Each message reads
``[Name, 2026-11-30 14:05 UTC] text`` with user and channel ids turned into names and files
named; the newest messages are kept when the thread is longer than ``max_chars``, after a line
saying how many earlier ones were left out.

Which messages a thread's turns have covered is kept in Redis (:meth:`bot.store.Store.context_mark`:
the ts of the newest mention that became a turn), so a restart or another replica goes on
from there.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot import render, slack_errors
from bot.mentions import from_a_person, slack_file
from bot.store import Store, thread_key

log = logging.getLogger(__name__)

_NAME_TTL_SECONDS: Final = 3600.0
_USER_ID = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_PAGE_LIMIT: Final = 200
_MAX_PAGES: Final = 10


@dataclass(frozen=True)
class ContextMessage:
    """One message of the thread, as the agent will read it."""

    ts: str
    author: str
    text: str
    files: tuple[str, ...] = ()
    attachments: tuple[dict[str, str | int], ...] = ()
    """The files themselves (see :func:`bot.mentions.slack_file`), for Codex to read."""

    def render(self) -> str:
        when = datetime.fromtimestamp(float(self.ts), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        line = f"[{self.author}, {when}] {self.text}".rstrip()
        if self.files:
            line += f" (attached: {', '.join(self.files)})"
        return line


def compose(messages: Sequence[ContextMessage], max_chars: int) -> str:
    """The context block for ``messages`` (oldest first): the newest that fit in
    ``max_chars``, after a line saying how many earlier ones were left out; "" for none."""
    if not messages:
        return ""
    header = "Earlier in this Slack thread:"
    lines = [m.render() for m in messages]
    if len(header) + sum(len(line) + 1 for line in lines) <= max_chars:
        return "\n".join([header, *lines])
    # Cut: room for the "left out" line first (its count is at most len(messages)).
    room = max_chars - len(header) - len(_left_out(len(messages))) - 2
    kept: list[str] = []
    for line in reversed(lines):
        if len(line) + 1 > room:
            if not kept:  # one huge message: its start rather than nothing
                kept.append(line[: max(0, room - 2)] + "…")
            break
        kept.append(line)
        room -= len(line) + 1
    return "\n".join([header, _left_out(len(lines) - len(kept)), *reversed(kept)])


def _left_out(count: int) -> str:
    return f"({count} earlier message{'s' if count != 1 else ''} left out)"


class ThreadContext:
    """Reads a thread's messages for a turn's input; see the module docstring."""

    def __init__(
        self,
        slack: AsyncWebClient,
        store: Store,
        *,
        bot_user_id: str,
        max_chars: int,
    ) -> None:
        self.slack = slack
        self.store = store
        self.bot_user_id = bot_user_id
        self.max_chars = max_chars
        self._names: dict[str, tuple[str, float]] = {}

    async def unseen(
        self, team: str, channel: str, thread_ts: str, mention_ts: str
    ) -> list[ContextMessage]:
        """The thread's messages before ``mention_ts`` that no earlier turn carried."""
        since = await self.store.context_mark(thread_key(team, channel, thread_ts))
        if since is None and mention_ts == thread_ts:
            return []  # a new thread: nothing was said before the mention
        raw = await self._replies(channel, thread_ts, oldest=since)
        picked = [
            m
            for m in raw
            if _ts(m) < _ts_of(mention_ts)
            and (since is None or _ts(m) > _ts_of(since))
            and from_a_person(m)
            and m.get("user") != self.bot_user_id
            and f"<@{self.bot_user_id}" not in str(m.get("text", ""))
        ]
        return [await self._readable(m) for m in picked]

    async def covered(self, team: str, channel: str, thread_ts: str, mention_ts: str) -> None:
        """Note that the thread's messages up to ``mention_ts`` reached Codex."""
        await self.store.set_context_mark(thread_key(team, channel, thread_ts), mention_ts)

    async def block(
        self, team: str, channel: str, thread_ts: str, mention_ts: str
    ) -> tuple[str, list[dict[str, str | int]]]:
        """The context block for a turn ("" when there is nothing new) and the files of its
        messages; Slack failures leave it out (the turn runs on the mention alone) rather
        than hold the turn up."""
        try:
            messages = await self.unseen(team, channel, thread_ts, mention_ts)
        except slack_errors.FAILURES as exc:
            log.warning(
                "could not read the thread for context: %s",
                slack_errors.error_code(exc) or type(exc).__name__,
            )
            return "", []
        files = [f for m in messages for f in m.attachments]
        return compose(messages, self.max_chars), files

    # -- internals --

    async def _replies(
        self, channel: str, thread_ts: str, *, oldest: str | None
    ) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params: dict[str, Any] = {"channel": channel, "ts": thread_ts, "limit": _PAGE_LIMIT}
            if oldest is not None:
                params["oldest"] = oldest
            if cursor:
                params["cursor"] = cursor
            page = await self.slack.conversations_replies(**params)
            messages.extend(page.get("messages") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                break
        return sorted(messages, key=_ts)

    async def _readable(self, message: Mapping[str, Any]) -> ContextMessage:
        text = str(message.get("text", ""))
        ids = {m.group(1) for m in _USER_ID.finditer(text)}
        author_id = str(message.get("user", ""))
        names = {user: await self._name(user) for user in ids | {author_id} if user}
        attachments = tuple(
            slack_file(f) for f in message.get("files") or [] if isinstance(f, dict)
        )
        return ContextMessage(
            ts=str(message.get("ts", "0")),
            author=names.get(author_id, author_id or "someone"),
            text=render.clean_mention(text, self.bot_user_id, names=names),
            files=tuple(str(f["name"]) for f in attachments),
            attachments=attachments,
        )

    async def _name(self, user: str) -> str:
        """A user's display name (cached an hour); the id itself when Slack won't say."""
        cached = self._names.get(user)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            info = (await self.slack.users_info(user=user)).get("user") or {}
        except slack_errors.FAILURES:
            return user
        profile = info.get("profile") or {}
        name = str(
            profile.get("display_name") or profile.get("real_name") or info.get("name") or user
        )
        self._names[user] = (name, time.monotonic() + _NAME_TTL_SECONDS)
        return name


def _ts(message: Mapping[str, Any]) -> tuple[int, int]:
    return _ts_of(str(message.get("ts", "0")))


def _ts_of(ts: str) -> tuple[int, int]:
    """A Slack ts as a number pair: string comparison breaks when the digit counts differ."""
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int(micros or 0)

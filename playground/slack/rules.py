"""Slack's documented limits, as pure checks the Slack fake applies to each call.

- Message content: ``no_text`` without text, blocks or attachments; ``msg_too_long`` over
  40,000 characters of text; ``too_many_attachments`` over 100; ``invalid_blocks`` when Block
  Kit limits are broken (50 blocks; markdown blocks 12,000 characters in total; section text
  3,000; header 150; buttons: text 75, value 2,000, action_id 255; 25 actions; 10 context
  elements), with Slack's ``errors`` list of ``[json-pointer:…]`` messages.
- Streaming chunks (``chat.startStream``/``appendStream``/``stopStream``): ``markdown_text``,
  ``task_update`` and ``plan_update``, titles of 1 to 256 characters, task statuses Slack
  knows; anything else is ``invalid_chunks``. A streamed message's markdown, like a markdown
  block's, stops at 12,000 characters (``msg_too_long``).
- Rate limits: token buckets per method and scope. Slack documents Tier 3 (``chat.update``) as
  "50+ per minute" per workspace and ``chat.postMessage`` as "1 per second per channel, short
  bursts allowed"; ``chat.startStream`` and ``chat.stopStream`` are Tier 2 (20+ per minute),
  ``chat.appendStream`` Tier 4 (100+ per minute) and ``assistant.threads.setStatus`` 600 per
  minute. Files: ``files.getUploadURLExternal``, ``files.completeUploadExternal``,
  ``files.info`` and ``users.info`` are Tier 4 (100+ per minute), ``conversations.replies``
  Tier 3 (50+; the 1-per-minute limit Slack set in 2025 binds only commercially distributed
  non-Marketplace apps, not an internal app like this bot). A refused call is HTTP 429 with an
  integer ``Retry-After``.
- OAuth scopes: :data:`METHOD_SCOPES` says which scopes each method accepts (any one will
  do); :func:`scope_error` gives Slack's ``missing_scope`` answer, which names the ``needed``
  scopes and the ``provided`` ones. :data:`DEFAULT_SCOPES` is what this bot is installed with.
- Fault windows: :class:`FaultWindow` says which calls fail at Slack's edge, in which way,
  and until when (by the fake's clock); :class:`playground.slack.api.SlackFake` serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal

MAX_TEXT: Final = 40_000
MAX_MARKDOWN_TOTAL: Final = 12_000
MAX_SECTION_TEXT: Final = 3_000
MAX_HEADER_TEXT: Final = 150
MAX_BLOCKS: Final = 50
MAX_ATTACHMENTS: Final = 100
MAX_STREAM_MARKDOWN: Final = MAX_MARKDOWN_TOTAL
MAX_TASK_TITLE: Final = 256

TASK_STATUSES: Final = frozenset({"pending", "in_progress", "complete", "error"})

KNOWN_BLOCKS: Final = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)


@dataclass(frozen=True)
class RateLimit:
    """``per_minute`` calls refilled evenly, up to ``burst`` at once, per workspace or channel."""

    per_minute: float
    burst: int
    scope: Literal["workspace", "channel"] = "workspace"


DEFAULT_RATE_LIMITS: Final[Mapping[str, RateLimit]] = {
    "chat.update": RateLimit(per_minute=50, burst=50, scope="workspace"),
    "chat.delete": RateLimit(per_minute=50, burst=50, scope="workspace"),
    "chat.postMessage": RateLimit(per_minute=60, burst=10, scope="channel"),
    "apps.connections.open": RateLimit(per_minute=1, burst=10, scope="workspace"),
    "chat.startStream": RateLimit(per_minute=20, burst=20, scope="workspace"),
    "chat.stopStream": RateLimit(per_minute=20, burst=20, scope="workspace"),
    "chat.appendStream": RateLimit(per_minute=100, burst=100, scope="workspace"),
    "assistant.threads.setStatus": RateLimit(per_minute=600, burst=600, scope="workspace"),
    "conversations.replies": RateLimit(per_minute=50, burst=50, scope="workspace"),
    "users.info": RateLimit(per_minute=100, burst=100, scope="workspace"),
    "files.info": RateLimit(per_minute=100, burst=100, scope="workspace"),
    "files.getUploadURLExternal": RateLimit(per_minute=100, burst=100, scope="workspace"),
    "files.completeUploadExternal": RateLimit(per_minute=100, burst=100, scope="workspace"),
}

DEFAULT_SCOPES: Final[tuple[str, ...]] = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "im:history",
    "mpim:history",
    "reactions:write",
    "usergroups:read",
    "users:read",
)
"""The bot token's scopes unless a test says otherwise: the manifest's, plus what reading
and posting files, DM threads and reactions need, so every method the fake serves works."""

METHOD_SCOPES: Final[Mapping[str, tuple[str, ...]]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.startStream": ("chat:write",),
    "chat.appendStream": ("chat:write",),
    "chat.stopStream": ("chat:write",),
    # Slack accepts either for thread statuses (the manifest relies on chat:write alone).
    "assistant.threads.setStatus": ("chat:write", "assistant:write"),
    "users.info": ("users:read",),
    "usergroups.users.list": ("usergroups:read",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "files.info": ("files:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}
"""Scopes each bot method accepts, any one sufficing. Methods not listed need none
(``auth.test``, ``chat.getPermalink``, ``views.*``); ``conversations.replies`` depends on the
channel's kind (see :func:`accepted_scopes`)."""

_HISTORY_SCOPES: Final[Mapping[str, tuple[str, ...]]] = {
    "C": ("channels:history",),
    "G": ("groups:history", "mpim:history"),
    "D": ("im:history",),
}


def accepted_scopes(method: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    """The scopes of which a call needs one (none: any token may make it). Reading a thread
    takes the history scope of the channel's kind: public, private or group DM, or DM."""
    if method == "conversations.replies":
        channel = params.get("channel")
        kind = channel[:1] if isinstance(channel, str) else ""
        return _HISTORY_SCOPES.get(kind, _HISTORY_SCOPES["C"])
    return METHOD_SCOPES.get(method, ())


def scope_error(
    method: str, params: Mapping[str, Any], scopes: Iterable[str]
) -> dict[str, Any] | None:
    """Slack's answer to a token without any scope the call accepts, or None when it has one:
    ``{"ok": false, "error": "missing_scope", "needed": ..., "provided": ...}``, both comma
    lists, so an app can tell which scope to add and what it was installed with."""
    granted = list(scopes)
    needed = accepted_scopes(method, params)
    if not needed or any(scope in granted for scope in needed):
        return None
    return {
        "ok": False,
        "error": "missing_scope",
        "needed": ",".join(needed),
        "provided": ",".join(granted),
    }


class RateLimiter:
    """Token buckets keyed by (method, scope key), on an injectable monotonic clock."""

    def __init__(self, limits: Mapping[str, RateLimit], clock: Callable[[], float]) -> None:
        self.limits = dict(limits)
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, method: str, *, team: str, channel: str | None) -> int:
        """Take a token for one call: 0 if allowed, else the Retry-After seconds (>= 1)."""
        limit = self.limits.get(method)
        if limit is None:
            return 0
        key = (method, (channel or "") if limit.scope == "channel" else team)
        now = self._clock()
        rate = limit.per_minute / 60.0
        tokens, at = self._buckets.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / rate))


FaultMode = Literal["http500", "hang", "drop", "apply_then_drop"]
"""How a faulted call fails: ``http500`` answers an HTTP 5xx error page, ``hang`` holds the
request unanswered until the window ends, ``drop`` closes the connection without an answer,
``apply_then_drop`` serves the call (the workspace changes) and then closes the connection
without an answer: the client cannot know its call took effect."""
FaultBody = Literal["html", "json", "text"]
"""The body of an ``http500`` answer: Slack's HTML error page, ``ok:false`` JSON, or the plain
text an Envoy proxy sends."""


class FaultWindow:
    """Calls of ``methods`` (all methods when None) fail with ``mode`` from now until
    :meth:`end` is called or ``seconds`` pass on ``clock``; made by ``SlackFake.fault``.

    Usable as ``with``/``async with`` (ending it on exit). :attr:`calls` lists the calls it
    faulted, as recorded in ``SlackFake.calls``.
    """

    def __init__(
        self,
        methods: Iterable[str] | None,
        mode: FaultMode,
        *,
        status: int,
        body: FaultBody,
        seconds: float | None,
        clock: Callable[[], float],
    ) -> None:
        if mode not in ("http500", "hang", "drop", "apply_then_drop"):
            raise ValueError(f"unknown fault mode {mode!r}")
        if not 500 <= status <= 599:
            raise ValueError(f"a fault's status must be 5xx, not {status}")
        self.methods = None if methods is None else frozenset(methods)
        self.mode, self.status, self.body, self.seconds = mode, status, body, seconds
        self._clock = clock
        self.started = clock()
        self.calls: list[dict[str, Any]] = []
        self._ended = asyncio.Event()

    @property
    def ended(self) -> bool:
        """Whether the window is over: ended by hand, or its ``seconds`` have passed."""
        if not self._ended.is_set() and self._remaining() == 0.0:
            self._ended.set()  # wakes held requests
        return self._ended.is_set()

    def covers(self, method: str) -> bool:
        """Whether a call of ``method`` arriving now is faulted by this window."""
        return not self.ended and (self.methods is None or method in self.methods)

    def end(self) -> None:
        """End the window: later calls are served, held (``hang``) calls are answered now."""
        self._ended.set()

    async def hold(self) -> None:
        """Return once the window has ended (a ``hang`` call waits here)."""
        while not self.ended:
            with contextlib.suppress(TimeoutError):
                # The deadline is on the fake's clock, which may be a test's hand-moved one:
                # wake when it should have passed in real time, then look at the clock again.
                await asyncio.wait_for(self._ended.wait(), self._remaining())

    def _remaining(self) -> float | None:
        if self.seconds is None:
            return None
        return max(0.0, self.started + self.seconds - self._clock())

    def __enter__(self) -> FaultWindow:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end()

    async def __aenter__(self) -> FaultWindow:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end()


def content_error(params: Mapping[str, Any], *, update: bool = False) -> dict[str, Any] | None:
    """The ``ok:false`` body Slack gives for a message's content, or None when it is fine."""
    text = params.get("text")
    blocks = params.get("blocks")
    attachments = params.get("attachments")
    if not update and not text and not blocks and not attachments:
        return {"ok": False, "error": "no_text"}
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    if attachments is not None:
        if not isinstance(attachments, list):
            return {"ok": False, "error": "invalid_attachments"}
        if len(attachments) > MAX_ATTACHMENTS:
            return {"ok": False, "error": "too_many_attachments"}
    if blocks is not None:
        if not isinstance(blocks, list):
            return {"ok": False, "error": "invalid_blocks_format"}
        errors = block_errors(blocks)
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            }
    return None


def chunks_ok(chunks: Any) -> bool:
    """Whether ``chunks`` is a list of streaming chunks Slack accepts: ``markdown_text`` (text),
    ``task_update`` (id, title, a known status; details and output optional) and
    ``plan_update`` (title); titles are 1 to 256 characters."""
    return isinstance(chunks, list) and all(_chunk_ok(chunk) for chunk in chunks)


def _chunk_ok(chunk: Any) -> bool:
    if not isinstance(chunk, Mapping):
        return False
    kind = chunk.get("type")
    if kind == "markdown_text":
        return isinstance(chunk.get("text"), str)
    if kind == "plan_update":
        return _title_ok(chunk.get("title"))
    if kind != "task_update":
        return False
    optional = [chunk.get(key, "") for key in ("details", "output")]
    return (
        isinstance(chunk.get("id"), str)
        and bool(chunk["id"])
        and _title_ok(chunk.get("title"))
        and chunk.get("status") in TASK_STATUSES
        and all(isinstance(value, str) for value in optional)
    )


def _title_ok(title: Any) -> bool:
    return isinstance(title, str) and 0 < len(title) <= MAX_TASK_TITLE


def block_errors(blocks: list[Any]) -> list[str]:
    """Slack-style messages for every broken Block Kit limit in ``blocks``."""
    errors: list[str] = []

    def fail(message: str, pointer: str) -> None:
        errors.append(f"{message} [json-pointer:{pointer}]")

    if len(blocks) > MAX_BLOCKS:
        fail(f"must provide an array with no more than {MAX_BLOCKS} items", "/blocks")
    markdown_total = 0
    for index, block in enumerate(blocks):
        at = f"/blocks/{index}"
        if not isinstance(block, Mapping) or block.get("type") not in KNOWN_BLOCKS:
            fail("failed to match all allowed schemas", at)
            continue
        kind = block["type"]
        if kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text:
                fail("must be more than 0 characters", f"{at}/text")
            else:
                markdown_total += len(text)
        elif kind in ("section", "header"):
            _text_object(block.get("text"), kind, f"{at}/text", fail, required=kind == "header")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > 25:
                fail("must provide an array with 1 to 25 items", f"{at}/elements")
            for j, element in enumerate(elements):
                _element(element, f"{at}/elements/{j}", fail)
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > 10:
                fail("must provide an array with 1 to 10 items", f"{at}/elements")
    if markdown_total > MAX_MARKDOWN_TOTAL:
        fail(f"markdown blocks must total no more than {MAX_MARKDOWN_TOTAL} characters", "/blocks")
    return errors


def _text_object(
    value: Any, kind: str, at: str, fail: Callable[[str, str], None], *, required: bool
) -> None:
    if value is None:
        if required:
            fail("must provide an object", at)
        return
    text = value.get("text") if isinstance(value, Mapping) else None
    if not isinstance(text, str) or not text:
        fail("must be more than 0 characters", f"{at}/text")
        return
    limit = MAX_HEADER_TEXT if kind == "header" else MAX_SECTION_TEXT
    if len(text) > limit:
        fail(f"must be less than {limit + 1} characters", f"{at}/text")


def _element(element: Any, at: str, fail: Callable[[str, str], None]) -> None:
    if not isinstance(element, Mapping) or "type" not in element:
        fail("failed to match all allowed schemas", at)
        return
    if element["type"] != "button":
        return
    label = (
        element.get("text", {}).get("text", "") if isinstance(element.get("text"), Mapping) else ""
    )
    if not label or len(label) > 75:
        fail("must be between 1 and 75 characters", f"{at}/text/text")
    if len(str(element.get("value", ""))) > 2000:
        fail("must be less than 2001 characters", f"{at}/value")
    if len(str(element.get("action_id", ""))) > 255:
        fail("must be less than 256 characters", f"{at}/action_id")

"""What users type to the bot: permalinks, ``/steer`` and ``/recap`` arguments, in-thread commands.

Pure functions; :mod:`bot.commands` acts on what they return. A malformed command raises
:class:`UsageError`, whose message is the usage to show the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DEFAULT_RECAP_TURNS",
    "MAX_RECAP_TURNS",
    "InThread",
    "Permalink",
    "RecapArgs",
    "SteerArgs",
    "UsageError",
    "how_to",
    "parse_in_thread",
    "parse_permalink",
    "parse_recap",
    "parse_steer",
    "workspace_host",
]

DEFAULT_RECAP_TURNS: Final = 5
MAX_RECAP_TURNS: Final = 20
"""A recap page holds at most this many turns (the render keeps a message under 50 blocks)."""


class UsageError(ValueError):
    """The command's text does not parse; the message says how to use it."""


@dataclass(frozen=True)
class Permalink:
    """The Slack thread a message permalink points into, and the workspace host it names."""

    channel: str
    thread_ts: str
    host: str
    """The link's host, lower case (``acme.slack.com``): whose workspace the ids belong to."""


_PERMALINK: Final = re.compile(
    r"^https://(?P<host>[A-Za-z0-9.-]+\.slack\.com)"
    r"/archives/(?P<channel>[CGD][A-Z0-9]+)/p(?P<digits>\d{7,})(?:/)?(?:\?(?P<query>\S*))?$"
)
_TS: Final = re.compile(r"^\d+\.\d{6}$")


def parse_permalink(word: str) -> Permalink | None:
    """The thread of a permalink (``https://<team>.slack.com/archives/<C>/p<digits>``), or None.

    The link may be wrapped as Slack escapes links (``<url>`` or ``<url|label>``). A reply's
    permalink carries ``?thread_ts=`` naming its thread; without it the message is the thread.
    """
    url = word.strip()
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1].split("|", 1)[0]
    match = _PERMALINK.match(url)
    if match is None:
        return None
    digits = match.group("digits")
    thread_ts = f"{digits[:-6]}.{digits[-6:]}"
    query = parse_qs(urlsplit(url).query)
    parent = (query.get("thread_ts") or [""])[0]
    if _TS.match(parent):
        thread_ts = parent
    return Permalink(match.group("channel"), thread_ts, match.group("host").lower())


def workspace_host(url: object) -> str | None:
    """The host of a workspace URL (``auth.test``'s ``url``, ``https://acme.slack.com/``), lower
    case, to compare with :attr:`Permalink.host`; None when ``url`` names no host."""
    if not isinstance(url, str):
        return None
    host = urlsplit(url.strip()).hostname
    return host.lower() if host else None


def _leading_permalink(text: str) -> tuple[Permalink | None, str]:
    words = text.strip().split(None, 1)
    if words:
        link = parse_permalink(words[0])
        if link is not None:
            return link, words[1].strip() if len(words) > 1 else ""
    return None, text.strip()


@dataclass(frozen=True)
class SteerArgs:
    target: Permalink | None
    guidance: str


def parse_steer(text: str) -> SteerArgs:
    """``[<permalink>] <guidance>``; raises UsageError without guidance."""
    target, guidance = _leading_permalink(text)
    if not guidance:
        raise UsageError(
            "Usage: `/steer [thread permalink] <guidance>`, or `@codex steer <guidance>` in the "
            "thread of a running turn."
        )
    return SteerArgs(target, guidance)


@dataclass(frozen=True)
class RecapArgs:
    target: Permalink | None
    limit: int


def _recap_limit(word: str) -> int:
    try:
        limit = int(word)
    except ValueError:
        raise UsageError(
            "Usage: `/recap [thread permalink] [number of turns]`, or `@codex recap [N]` in the "
            "thread."
        ) from None
    if not 1 <= limit <= MAX_RECAP_TURNS:
        raise UsageError(f"A recap shows 1 to {MAX_RECAP_TURNS} turns per page.")
    return limit


def parse_recap(text: str) -> RecapArgs:
    """``[<permalink>] [N]`` with 1 <= N <= 20 (default 5); raises UsageError otherwise."""
    target, rest = _leading_permalink(text)
    words = rest.split()
    if len(words) > 1:
        raise UsageError(_recap_usage())
    return RecapArgs(target, _recap_limit(words[0]) if words else DEFAULT_RECAP_TURNS)


def _recap_usage() -> str:
    return (
        "Usage: `/recap [thread permalink] [number of turns]`, or `@codex recap [N]` in the thread."
    )


@dataclass(frozen=True)
class InThread:
    """An in-thread command: ``steer`` (with ``guidance``), ``stop`` or ``recap`` (``limit``)."""

    verb: str
    guidance: str = ""
    limit: int = DEFAULT_RECAP_TURNS


_IN_THREAD: Final = re.compile(r"^(?P<verb>steer|stop|recap)\b[\s:,.!]*(?P<rest>.*)$", re.I | re.S)


def parse_in_thread(text: str) -> InThread | None:
    """The command a mention's text (bot mention removed) is, or None for a plain prompt.

    ``steer <guidance>`` and ``recap [N]`` take what follows; ``stop`` must stand alone, so a
    prompt such as "stop using globals in utils.py" stays a prompt. Raises UsageError for a
    command with bad arguments (``steer`` without guidance, ``recap`` with a bad N).
    """
    match = _IN_THREAD.match(text.strip())
    if match is None:
        return None
    verb, rest = match.group("verb").lower(), match.group("rest").strip()
    if verb == "stop":
        return InThread("stop") if not rest else None
    if verb == "steer":
        if not rest:
            raise UsageError("Usage: `@codex steer <guidance>` in the thread of a running turn.")
        return InThread("steer", guidance=rest)
    words = rest.split()
    if len(words) > 1:
        return None  # "recap the design doc for me" is a prompt, not a command
    return InThread("recap", limit=_recap_limit(words[0]) if words else DEFAULT_RECAP_TURNS)


def how_to(bot_user_id: str) -> str:
    """What to type, for a mention that says nothing but the bot's name."""
    return (
        f"👋 Mention <@{bot_user_id}> with a question or a task and Codex works on it here, "
        "answering in the thread; mention me again in the thread to continue. In a thread, "
        "after the mention: `steer <guidance>` guides the running turn, `stop` stops it, and "
        "`recap [N]` shows its last N turns."
    )

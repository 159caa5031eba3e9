"""Who and what the playground's workspace holds: people, channels, the app's commands.

The emulator synthesises a user for any id; the playground names a few, so the page and the
bot's ``users.info`` lookups agree, and lists the slash commands and message shortcuts the
app declares in ``manifest.yaml`` (a test keeps the two lists in step).

:func:`encode` turns what a person types into the text Slack delivers: ``&``, ``<`` and ``>``
escaped, ``@name`` a user mention (``<@U…>``), ``#name`` a channel (``<#C…|name>``),
``@here``/``@channel`` special mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "BOT_NAME",
    "CHANNELS",
    "COMMANDS",
    "PEOPLE",
    "SHORTCUTS",
    "Channel",
    "Command",
    "Person",
    "Shortcut",
    "encode",
    "profile",
]

BOT_NAME: Final = "codex"
"""The bot user's display name, as ``manifest.yaml`` sets it."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    real_name: str


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    topic: str


@dataclass(frozen=True)
class Command:
    command: str
    usage_hint: str
    description: str


@dataclass(frozen=True)
class Shortcut:
    callback_id: str
    name: str


PEOPLE: Final = (
    Person("U0001", "ada", "Ada Lovelace"),
    Person("U0002", "grace", "Grace Hopper"),
)
"""The people one can be on the page (the first by default)."""

CHANNELS: Final = (
    Channel("C0001", "general", "Mention @codex with a question to start a Codex thread."),
    Channel("C0002", "random", "Another channel: its threads are its own."),
)

COMMANDS: Final = (
    Command("/steer", "[thread permalink] <guidance>", "Give guidance to your running Codex turn"),
    Command(
        "/recap", "[thread permalink] [number of turns]", "Summarize the turns of a Codex thread"
    ),
)
"""The app's slash commands, as ``manifest.yaml`` declares them."""

SHORTCUTS: Final = (
    Shortcut("steer_codex", "Steer Codex"),
    Shortcut("recap_thread", "Recap thread"),
)
"""The app's message shortcuts, as ``manifest.yaml`` declares them."""

_SPECIAL: Final = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}
_MENTION: Final = re.compile(r"(?<![\w@#])([@#])([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)


def profile(person: Person, team_id: str) -> dict[str, Any]:
    """``users.info``'s user object for ``person``."""
    names = {"display_name": person.name, "real_name": person.real_name}
    return {
        "id": person.id,
        "team_id": team_id,
        "name": person.name,
        "real_name": person.real_name,
        "is_bot": False,
        "tz": "UTC",
        "profile": names,
    }


def encode(text: str, *, bot_user_id: str) -> str:
    """What Slack delivers for ``text`` typed in its composer (see the module docstring).
    Names nobody has stay as typed."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    users = {person.name: person.id for person in PEOPLE} | {BOT_NAME: bot_user_id}
    channels = {channel.name: channel.id for channel in CHANNELS}

    def replace(match: re.Match[str]) -> str:
        sigil, name = match.group(1), match.group(2)
        key = name.lower().rstrip(".")
        rest = name[len(key) :]
        if sigil == "@" and key in users:
            return f"<@{users[key]}>{rest}"
        if sigil == "@" and key in _SPECIAL:
            return _SPECIAL[key] + rest
        if sigil == "#" and key in channels:
            return f"<#{channels[key]}|{key}>{rest}"
        return match.group(0)

    return _MENTION.sub(replace, escaped)

"""What a request to the agent is: a mention of the bot, on a Slack thread.

A :class:`Mention` is what the bot queues per Slack thread (as JSON in Redis) and turns into
a Codex turn; a :class:`SlackThread` is the unit that maps to one Codex thread. The turn's
``clientUserMessageId`` names the mention (:func:`client_message_id`), so Codex's own history
says who asked, and a replica taking a thread over can tell whether a turn was already sent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bot import render
from bot.store import thread_key

_CLIENT_ID_PREFIX = "slack:"


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
    files: list[dict[str, str | int]] = field(default_factory=list)
    """Files attached to the mention: id, name, mimetype, size and the download URL."""

    @property
    def thread(self) -> SlackThread:
        return SlackThread(self.team, self.channel, self.thread_ts)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Mention:
        return cls(**json.loads(raw))


PERSON_SUBTYPES: frozenset[str | None] = frozenset({None, "thread_broadcast", "file_share"})
"""Message subtypes a person posts (plain, also sent to the channel, with files); the others
are joins, edits, bots' messages and the like."""


def from_a_person(message: dict[str, Any]) -> bool:
    """Whether a Slack message (or message event) is one a person wrote, not a bot."""
    return not message.get("bot_id") and message.get("subtype") in PERSON_SUBTYPES


def parse_mention(event: dict[str, Any], *, team: str, bot_user_id: str) -> Mention | None:
    """The mention in an ``app_mention`` or ``message`` event; None for an event that is not
    a person mentioning the bot. Raises KeyError/TypeError/ValueError on a malformed event."""
    if not from_a_person(event):
        return None
    text = str(event["text"])
    if event.get("type") == "message" and f"<@{bot_user_id}>" not in text:
        return None
    ts = str(event["ts"])
    return Mention(
        team=str(event.get("team") or team),
        channel=str(event["channel"]),
        thread_ts=str(event.get("thread_ts") or ts),
        ts=ts,
        user=str(event["user"]),
        text=render.clean_mention(text, bot_user_id),
        files=[slack_file(f) for f in event.get("files") or [] if isinstance(f, dict)],
    )


def slack_file(raw: dict[str, Any]) -> dict[str, str | int]:
    """What the bot keeps of a file in a Slack message (never its content)."""
    size = raw.get("size")
    return {
        "id": str(raw.get("id", "")),
        "name": str(raw.get("name") or raw.get("title") or "file"),
        "mimetype": str(raw.get("mimetype") or ""),
        "size": size if isinstance(size, int) else 0,
        "url": str(raw.get("url_private_download") or raw.get("url_private") or ""),
    }


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

"""Recaps: a thread's turns, newest first, as Block Kit only the requester sees (or shared)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot.mrkdwn import escape
from bot.render._blocks import Block, actions, button, context, header, section
from bot.render._text import short
from codex_client import AgentMessageItem, Turn, UserMessageItem

ACTION_RECAP_OLDER: Final = "codex_recap_older"
ACTION_RECAP_SHARE: Final = "codex_recap_share"

FIRST_TURN: Final = "_That is the thread's first turn._"


@dataclass(frozen=True)
class RecapTurn:
    """One turn as a recap shows it."""

    prompt: str
    answer: str
    status: str
    started_at: float | None = None
    asked_by: str | None = None


def recap_turn(turn: Turn, *, asked_by: str | None = None) -> RecapTurn:
    """A :class:`RecapTurn` from a Codex turn in the ``summary`` view: its first user
    message's text, and its last agent message."""
    prompt, answer = "", ""
    for item in turn.items:
        if isinstance(item, UserMessageItem) and not prompt:
            prompt = item.text
        elif isinstance(item, AgentMessageItem):
            answer = item.text
    return RecapTurn(
        prompt=prompt,
        answer=answer,
        status=turn.status or "unknown",
        started_at=float(turn.started_at) if turn.started_at is not None else None,
        asked_by=asked_by,
    )


_STATUS_EMOJI: Final = {
    "completed": ":white_check_mark: completed",
    "interrupted": ":black_square_for_stop: stopped",
    "failed": ":x: failed",
    "inProgress": ":hourglass_flowing_sand: running",
}


def recap_blocks(
    turns: Sequence[RecapTurn],
    *,
    title: str = "Recap",
    older_value: str | None = None,
    share_value: str | None = None,
    at_first_turn: bool = False,
    shared_by: str | None = None,
) -> list[Block]:
    """Block Kit for one page of a recap, newest turn first.

    Per turn: who asked and what, the gist of the answer, status and time. ``older_value``
    (a short cursor id) adds an "Older" button, ``share_value`` a "Share" button;
    ``at_first_turn`` says the page reaches the thread's first turn, ``shared_by`` who shared
    it. At most 20 turns are shown, which keeps the message under Slack's 50 blocks.
    """
    blocks: list[Block] = [header(short(title, 150))]
    if shared_by is not None:
        blocks.append(context(f"Shared by <@{shared_by}>"))
    if not turns:
        blocks.append(section("_No turns yet in this thread._"))
    for turn in turns[:20]:
        who = f"<@{turn.asked_by}>" if turn.asked_by else "Someone"
        asked = escape(gist(turn.prompt, 300)) or "_(no text)_"
        answer = escape(gist(turn.answer, 600)) or "_(no answer)_"
        blocks.append(section(f"*{who} asked:* {asked}\n>{answer}"))
        status = _STATUS_EMOJI.get(turn.status, turn.status)
        when = _slack_date(turn.started_at)
        blocks.append(context(f"{status}{f' · {when}' if when else ''}"))
    if at_first_turn:
        blocks.append(context(FIRST_TURN))
    buttons = []
    if older_value is not None:
        buttons.append(button("Older", ACTION_RECAP_OLDER, older_value))
    if share_value is not None:
        buttons.append(button("Share in thread", ACTION_RECAP_SHARE, share_value))
    if buttons:
        blocks.append(actions("codex_recap", buttons))
    return blocks


def gist(text: str, limit: int) -> str:
    """The first words of a markdown text as plain text: code, links and emphasis flattened."""
    plain = re.sub(r"```[^\n]*\n?", "", text)
    plain = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", plain)
    plain = re.sub(r"(\*\*|__|`|~~|^#+\s*)", "", plain, flags=re.MULTILINE)
    return short(" ".join(plain.split()), limit)


def _slack_date(epoch: float | None) -> str:
    if epoch is None:
        return ""
    fallback = datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{fallback}>"

"""Reply messages and the status lines that end them.

A reply's body is a ``markdown`` block (Slack renders the agent's CommonMark as is), capped at
:data:`MARKDOWN_BLOCK_CHARS`; longer texts are cut by :func:`split_message` into lossless pieces
(see :mod:`bot.mrkdwn`). Every message also carries a ``text`` fallback in mrkdwn, used by
notifications and by clients that cannot show the block.
"""

from __future__ import annotations

from typing import Final

from bot.mrkdwn import Chunk, split_markdown, to_mrkdwn
from bot.render._blocks import Block, actions, button, markdown
from bot.render._text import short, truncate

MARKDOWN_BLOCK_CHARS: Final = 12_000
"""Slack's cap on the text of the markdown blocks of one message (cumulative)."""
MESSAGE_CHARS: Final = MARKDOWN_BLOCK_CHARS
"""Characters of agent text per Slack message before a reply rolls over."""
TEXT_CHARS: Final = 39_000
"""Where a ``text`` fallback is truncated: Slack refuses more than 40,000 (``msg_too_long``)."""

ACTION_STOP: Final = "codex_stop"
ACTION_RERUN: Final = "codex_rerun"

THINKING: Final = "_Thinking…_"
REDIS_DOWN: Final = (
    "⚠️ I can't reach my storage (Redis) right now, so nothing was started. "
    "Please try again in a minute."
)


def split_message(text: str, limit: int = MESSAGE_CHARS) -> list[Chunk]:
    """Cut a reply into per-message pieces; ``"".join(pieces) == text``, see :mod:`bot.mrkdwn`."""
    return split_markdown(text, limit)


def markdown_block(text: str) -> Block:
    """A ``markdown`` block showing ``text`` (a :class:`Chunk` shows its fence repairs)."""
    shown = text.display if isinstance(text, Chunk) else text
    return markdown(shown or THINKING)


def reply_blocks(
    text: str, *, stop_value: str | None = None, rerun_value: str | None = None
) -> list[Block]:
    """The blocks of one reply message, with a Stop button when ``stop_value`` is given and
    a "Run again" button when ``rerun_value`` is."""
    blocks = [markdown_block(text)]
    buttons = []
    if stop_value is not None:
        buttons.append(button("Stop", ACTION_STOP, stop_value, style="danger"))
    if rerun_value is not None:
        buttons.append(button("Run again", ACTION_RERUN, rerun_value, style="primary"))
    if buttons:
        blocks.append(actions("codex_reply", buttons))
    return blocks


def fallback_text(text: str) -> str:
    """The mrkdwn ``text`` of a message whose blocks show ``text``; cut to fit Slack's limit."""
    shown = text.display if isinstance(text, Chunk) else text
    converted = to_mrkdwn(shown) or THINKING
    return truncate(converted, TEXT_CHARS)


# -- status lines ---------------------------------------------------------------------------


def status_line(
    status: str, *, stopped_by: str | None = None, error: str | None = None
) -> str | None:
    """The line that ends a reply whose turn did not complete; None for a completed turn."""
    if status == "completed":
        return None
    if status == "interrupted":
        return f"_⏹️ Stopped by <@{stopped_by}>._" if stopped_by else "_⏹️ Stopped._"
    if status == "failed":
        return f"_❌ Failed: {short(error or 'unknown error', 300)}_"
    return f"_{short(status, 80)}_"


def interrupted(text: str, *, stopped_by: str | None = None) -> str:
    """A stopped turn's reply: whatever it had said, then who stopped it."""
    return _with_status(text, status_line("interrupted", stopped_by=stopped_by))


def failed(text: str, message: str) -> str:
    """A failed turn's reply: whatever it had said, then why it failed."""
    return _with_status(text, status_line("failed", error=message))


def connection_lost(text: str) -> str:
    """A reply cut short because the connection to Codex dropped mid-turn."""
    note = "_⚠️ Lost the connection to Codex; this answer may be incomplete._"
    partial = "" if text == THINKING else text
    return _with_status(partial, note)


def turn_lost(text: str) -> str:
    """A reply whose turn the Codex server lost (it restarted mid-turn): what it had shown,
    then what happened and what the user can do."""
    note = (
        "_⚠️ The Codex server restarted while working on this, and the turn was lost. "
        "Press *Run again* to send the request once more._"
    )
    partial = "" if text == THINKING else text
    return _with_status(partial, note)


def codex_unreachable(exc: BaseException) -> str:
    """The reply when a turn could not start; names the error's kind, never its details.

    Error messages can carry URLs or paths of the deployment, so only the class name is shown.
    """
    return (
        "⚠️ I couldn't reach Codex to start this turn "
        f"(`{type(exc).__name__}`). Nothing was lost: mention me again in a moment."
    )


def queued(user: str) -> str:
    """Told to a user whose mention waits behind the thread's running turn."""
    return (
        f"<@{user}> Your request is queued: I'm still working on the previous one in this "
        "thread, and yours runs next."
    )


def _with_status(text: str, line: str | None) -> str:
    if not line:
        return text
    return f"{text.rstrip()}\n\n{line}" if text.strip() else line

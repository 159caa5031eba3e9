"""What the bot shows in Slack: replies, status lines, tool activity, recaps. Pure functions.

A reply's body is a ``markdown`` block (Slack renders the agent's CommonMark as is), capped at
:data:`MARKDOWN_BLOCK_CHARS`; longer texts are cut by :func:`split_message` into lossless pieces
(see :mod:`bot.mrkdwn`). Every message also carries a ``text`` fallback in mrkdwn, used by
notifications and by clients that cannot show the block.

Status lines, tool activity and recaps are short strings and Block Kit dicts; nothing here does
I/O, so every function is tested by value. Slack's own ids (``<@U123>``) are left for Slack to
render. Action ids of the buttons built here are constants, so listeners can match on them.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.mrkdwn import Chunk, escape, join_displayed, split_markdown, to_mrkdwn

__all__ = [
    "ACTION_APPROVAL",
    "ACTION_RECAP_OLDER",
    "ACTION_RECAP_SHARE",
    "ACTION_STOP",
    "APPROVAL_BUTTONS",
    "MARKDOWN_BLOCK_CHARS",
    "MESSAGE_CHARS",
    "REDIS_DOWN",
    "TEXT_CHARS",
    "THINKING",
    "ApprovalPrompt",
    "Chunk",
    "RecapTurn",
    "activity",
    "approval_blocks",
    "approval_outcome",
    "approval_text",
    "clean_mention",
    "codex_unreachable",
    "connection_lost",
    "decision_label",
    "failed",
    "fallback_text",
    "gist",
    "interrupted",
    "join_displayed",
    "markdown_block",
    "queued",
    "recap_blocks",
    "recap_turn",
    "reply_blocks",
    "split_message",
    "status_line",
    "to_mrkdwn",
]

MARKDOWN_BLOCK_CHARS: Final = 12_000
"""Slack's cap on the text of the markdown blocks of one message (cumulative)."""
MESSAGE_CHARS: Final = MARKDOWN_BLOCK_CHARS
"""Characters of agent text per Slack message before a reply rolls over."""
TEXT_CHARS: Final = 39_000
"""Where a ``text`` fallback is truncated: Slack refuses more than 40,000 (``msg_too_long``)."""
SECTION_CHARS: Final = 3_000
"""Slack's cap on a section block's text."""

ACTION_STOP: Final = "codex_stop"
ACTION_RERUN: Final = "codex_rerun"
ACTION_RECAP_OLDER: Final = "codex_recap_older"
ACTION_RECAP_SHARE: Final = "codex_recap_share"
APPROVAL_BUTTONS: Final = 8
"""At most this many decision buttons on one approval prompt (the server offers ~4)."""
ACTION_APPROVAL: Final = tuple(f"codex_approval_{i}" for i in range(APPROVAL_BUTTONS))
"""One action id per button position: Slack wants action ids unique within a block."""

THINKING: Final = "_Thinking…_"
REDIS_DOWN: Final = (
    "⚠️ I can't reach my storage (Redis) right now, so nothing was started. "
    "Please try again in a minute."
)


# -- replies --------------------------------------------------------------------------------


def split_message(text: str, limit: int = MESSAGE_CHARS) -> list[Chunk]:
    """Cut a reply into per-message pieces; ``"".join(pieces) == text``, see :mod:`bot.mrkdwn`."""
    return split_markdown(text, limit)


def markdown_block(text: str) -> dict[str, Any]:
    """A ``markdown`` block showing ``text`` (a :class:`Chunk` shows its fence repairs)."""
    shown = text.display if isinstance(text, Chunk) else text
    return {"type": "markdown", "text": shown or THINKING}


def reply_blocks(
    text: str, *, stop_value: str | None = None, rerun_value: str | None = None
) -> list[dict[str, Any]]:
    """The blocks of one reply message, with a Stop button when ``stop_value`` is given and
    a "Run again" button when ``rerun_value`` is."""
    blocks = [markdown_block(text)]
    buttons = []
    if stop_value is not None:
        buttons.append(_button("Stop", ACTION_STOP, stop_value, style="danger"))
    if rerun_value is not None:
        buttons.append(_button("Run again", ACTION_RERUN, rerun_value, style="primary"))
    if buttons:
        blocks.append({"type": "actions", "block_id": "codex_reply", "elements": buttons})
    return blocks


def fallback_text(text: str) -> str:
    """The mrkdwn ``text`` of a message whose blocks show ``text``; cut to fit Slack's limit."""
    shown = text.display if isinstance(text, Chunk) else text
    converted = to_mrkdwn(shown) or THINKING
    return _truncate(converted, TEXT_CHARS)


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
        return f"_❌ Failed: {_short(error or 'unknown error', 300)}_"
    return f"_{_short(status, 80)}_"


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


# -- tool activity --------------------------------------------------------------------------


def activity(item: Any) -> str | None:
    """A compact line for a tool item that started (``running `pytest```); None for others.

    ``item`` is a Codex ``ThreadItem``: a mapping, or a pydantic model of one.
    """
    data = _as_mapping(item)
    kind = data.get("type")
    if kind == "commandExecution":
        return _command_activity(data)
    if kind == "fileChange":
        changes = data.get("changes") or []
        paths = [str(change.get("path", "")) for change in changes if isinstance(change, Mapping)]
        if len(paths) == 1:
            return f"editing `{_short(_basename(paths[0]), 60)}`"
        return f"editing {len(paths)} files" if paths else "editing files"
    if kind == "mcpToolCall":
        tool = f"{data.get('server', '')}.{data.get('tool', '')}"
        return f"calling `{_short(tool, 60)}`"
    if kind == "webSearch":
        query = data.get("query")
        return f"searching the web for “{_short(str(query), 60)}”" if query else "searching the web"
    if kind == "reasoning":
        return "thinking"
    return None


def _command_activity(data: Mapping[str, Any]) -> str:
    actions = [a for a in data.get("commandActions") or [] if isinstance(a, Mapping)]
    if len(actions) == 1:
        action = actions[0]
        if action.get("type") == "read" and action.get("name"):
            return f"reading `{_short(str(action['name']), 60)}`"
        if action.get("type") == "search":
            query = action.get("query")
            return f"searching for `{_short(str(query), 60)}`" if query else "searching files"
        if action.get("type") == "listFiles":
            return "listing files"
        if action.get("command"):
            return f"running `{_short(str(action['command']), 60)}`"
    return f"running `{_short(_unwrap_shell(str(data.get('command') or '')), 60)}`"


_SHELL_WRAPPER: Final = re.compile(r"^(?:/\S*/)?(?:ba|z)?sh\s+-l?c\s+(['\"])(.*)\1$", re.DOTALL)


def _unwrap_shell(command: str) -> str:
    match = _SHELL_WRAPPER.match(command.strip())
    return match.group(2) if match else command.strip()


def _as_mapping(item: Any) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        data: dict[str, Any] = dump(by_alias=True)
        return data
    return {}


# -- mentions -------------------------------------------------------------------------------

_ANGLE: Final = re.compile(r"<([^<>\n]+)>")


def clean_mention(text: str, bot_user_id: str, *, names: Mapping[str, str] | None = None) -> str:
    """A mention's text as the agent should read it.

    The bot's own mention goes away; ``<@U123>`` becomes ``@name`` (from ``names``, else
    ``@U123``), ``<#C123|general>`` becomes ``#general``, ``<https://x|label>`` becomes
    ``label (https://x)``, special mentions and dates their fallback text; ``&amp;``,
    ``&lt;`` and ``&gt;`` are unescaped.
    """
    own = re.compile(rf"[ \t]*<@{re.escape(bot_user_id)}(?:\|[^>]*)?>[ \t]*")
    text = own.sub(" ", text)
    text = _ANGLE.sub(lambda m: _readable(m.group(1), names or {}), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()


def _readable(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user = target[1:]
        return f"@{names.get(user) or label or user}"
    if target.startswith("#"):
        return f"#{label or names.get(target[1:]) or target[1:]}"
    if target.startswith("!"):
        if label:
            return label
        keyword = target[1:].split("^", 1)[0]
        return f"@{keyword}"
    if label and target.removeprefix("mailto:") != label and target != label:
        return f"{label} ({target})"
    return label or target


# -- recaps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecapTurn:
    """One turn as a recap shows it."""

    prompt: str
    answer: str
    status: str
    started_at: float | None = None
    asked_by: str | None = None


def recap_turn(turn: Any, *, asked_by: str | None = None) -> RecapTurn:
    """A :class:`RecapTurn` from a Codex turn (mapping or model) in the ``summary`` view."""
    data = _as_mapping(turn)
    prompt, answer = "", ""
    for item in data.get("items") or []:
        entry = _as_mapping(item)
        if entry.get("type") == "userMessage" and not prompt:
            parts = [p for p in entry.get("content") or [] if isinstance(p, Mapping)]
            prompt = " ".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
        elif entry.get("type") == "agentMessage":
            answer = str(entry.get("text") or "")
    started = data.get("startedAt")
    return RecapTurn(
        prompt=prompt,
        answer=answer,
        status=str(data.get("status") or "unknown"),
        started_at=float(started) if isinstance(started, int | float) else None,
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
) -> list[dict[str, Any]]:
    """Block Kit for one page of a recap, newest turn first.

    Per turn: who asked and what, the gist of the answer, status and time. ``older_value``
    (a short cursor id) adds an "Older" button, ``share_value`` a "Share" button. At most 20
    turns are shown, which keeps the message under Slack's 50 blocks.
    """
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _short(title, 150)}}
    ]
    if not turns:
        blocks.append(_section("_No turns yet in this thread._"))
    for turn in turns[:20]:
        who = f"<@{turn.asked_by}>" if turn.asked_by else "Someone"
        asked = escape(gist(turn.prompt, 300)) or "_(no text)_"
        answer = escape(gist(turn.answer, 600)) or "_(no answer)_"
        blocks.append(_section(f"*{who} asked:* {asked}\n>{answer}"))
        status = _STATUS_EMOJI.get(turn.status, turn.status)
        when = _slack_date(turn.started_at)
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{status}{f' · {when}' if when else ''}"}],
            }
        )
    buttons = []
    if older_value is not None:
        buttons.append(_button("Older", ACTION_RECAP_OLDER, older_value))
    if share_value is not None:
        buttons.append(_button("Share in thread", ACTION_RECAP_SHARE, share_value))
    if buttons:
        blocks.append({"type": "actions", "block_id": "codex_recap", "elements": buttons})
    return blocks


def gist(text: str, limit: int) -> str:
    """The first words of a markdown text as plain text: code, links and emphasis flattened."""
    plain = re.sub(r"```[^\n]*\n?", "", text)
    plain = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", plain)
    plain = re.sub(r"(\*\*|__|`|~~|^#+\s*)", "", plain, flags=re.MULTILINE)
    return _short(" ".join(plain.split()), limit)


def _slack_date(epoch: float | None) -> str:
    if epoch is None:
        return ""
    fallback = datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{fallback}>"


# -- approvals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalPrompt:
    """What Codex asks to be allowed to do, as an approval message shows it."""

    kind: str
    """``command`` or ``fileChange``."""
    started_by: str
    command: str | None = None
    cwd: str | None = None
    reason: str | None = None
    changes: tuple[tuple[str, str], ...] = ()
    """``(kind, path)`` of each file change: ``add``, ``delete``, ``update``…"""


def decision_label(decision: Any) -> str:
    """A button label for one of Codex's approval decisions (a string or a tagged object)."""
    labels = {
        "accept": "Approve",
        "acceptForSession": "Approve for this session",
        "decline": "Decline",
        "cancel": "Decline and stop the turn",
    }
    if isinstance(decision, str):
        return labels.get(decision, _short(decision, 70))
    if isinstance(decision, Mapping) and len(decision) == 1:
        ((tag, body),) = decision.items()
        body = body if isinstance(body, Mapping) else {}
        if tag == "acceptWithExecpolicyAmendment":
            prefix = " ".join(str(p) for p in body.get("execpolicy_amendment") or [])
            return _short(f"Always allow `{prefix}`" if prefix else "Always allow this", 70)
        if tag == "applyNetworkPolicyAmendment":
            rule = body.get("network_policy_amendment")
            rule = rule if isinstance(rule, Mapping) else {}
            verb = "Always deny" if rule.get("action") == "deny" else "Always allow"
            return _short(f"{verb} {rule.get('host') or 'this host'}", 70)
        return _short(str(tag), 70)
    return "Answer"


def _decision_style(decision: Any) -> str | None:
    if decision == "accept":
        return "primary"
    if decision in ("decline", "cancel"):
        return "danger"
    return None


def approval_text(prompt: ApprovalPrompt) -> str:
    """The notification text of an approval message (its blocks say more)."""
    if prompt.kind == "command":
        return f"Codex asks to run `{_short(_shown_command(prompt), 200)}`"
    return f"Codex asks to change {len(prompt.changes) or 'some'} file(s)"


def approval_blocks(
    prompt: ApprovalPrompt,
    *,
    approval_id: str,
    decisions: Sequence[Any],
    outcome: str | None = None,
) -> list[dict[str, Any]]:
    """An approval message: what Codex wants, then one button per decision, or the outcome.

    Button values are ``<approval_id>:<index into decisions>``; the decisions themselves
    stay server-side with the approval record.
    """
    if prompt.kind == "command":
        title = "*🔐 Codex wants to run a command*"
        # A zero-width space keeps a command's own ``` from closing the code block early.
        shown = escape(_truncate(_shown_command(prompt), 2_500)).replace("```", "`\u200b``")
        body = f"```{shown}```"
        details = [f"in `{escape(prompt.cwd)}`"] if prompt.cwd else []
    else:
        title = "*🔐 Codex wants to change files*"
        lines = [f"• {escape(kind)} `{escape(path)}`" for kind, path in prompt.changes[:15]]
        if len(prompt.changes) > 15:
            lines.append(f"• …and {len(prompt.changes) - 15} more")
        body = "\n".join(lines) or "_(the changes were not shown to the bot)_"
        details = []
    blocks = [_section(f"{title} for <@{prompt.started_by}>'s turn\n{body}")]
    if prompt.reason:
        details.append(f"reason: {escape(_short(prompt.reason, 500))}")
    if details:
        blocks.append(_context(" · ".join(details)))
    if outcome is not None:
        blocks.append(_context(outcome))
        return blocks
    buttons = []
    for index, decision in enumerate(list(decisions)[:APPROVAL_BUTTONS]):
        buttons.append(
            _button(
                decision_label(decision),
                ACTION_APPROVAL[index],
                f"{approval_id}:{index}",
                style=_decision_style(decision),
            )
        )
    blocks.append({"type": "actions", "block_id": "codex_approval", "elements": buttons})
    blocks.append(
        _context(f"<@{prompt.started_by}> or a configured approver can answer this request.")
    )
    return blocks


def approval_outcome(decision: Any, *, user: str | None, why: str | None = None) -> str:
    """The line that replaces an approval's buttons once it is answered or expired."""
    if decision == "expired" or not user:
        return f"⌛ This request expired{f': {why}' if why else ''}. Nothing was run."
    if decision in ("decline",):
        return f"🚫 <@{user}> declined."
    if decision == "cancel":
        return f"⏹️ <@{user}> declined and stopped the turn."
    return f"✅ <@{user}> chose *{decision_label(decision)}*."


def _shown_command(prompt: ApprovalPrompt) -> str:
    return _unwrap_shell(prompt.command or "") or "(no command given)"


# -- small helpers --------------------------------------------------------------------------


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(text, 3000)}]}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(text, SECTION_CHARS)}}


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + "…"


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path

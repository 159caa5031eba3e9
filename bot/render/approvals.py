"""Approval prompts: what Codex asks to do, one button per decision it offers, then the outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.mrkdwn import escape
from bot.render._blocks import Block, actions, button, context, section
from bot.render._text import short, truncate, unwrap_shell

APPROVAL_BUTTONS: Final = 8
"""At most this many decision buttons on one approval prompt (the server offers ~4)."""
ACTION_APPROVAL: Final = tuple(f"codex_approval_{i}" for i in range(APPROVAL_BUTTONS))
ASKED_AGAIN: Final = (
    "↪️ Codex asked this again below (the bot handed the turn to another replica): answer there."
)
"""What a prompt says once Codex sent the same request again after a takeover."""
"""One action id per button position: Slack wants action ids unique within a block."""


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
        return labels.get(decision, short(decision, 70))
    if isinstance(decision, Mapping) and len(decision) == 1:
        ((tag, body),) = decision.items()
        body = body if isinstance(body, Mapping) else {}
        if tag == "acceptWithExecpolicyAmendment":
            prefix = " ".join(str(p) for p in body.get("execpolicy_amendment") or [])
            return short(f"Always allow `{prefix}`" if prefix else "Always allow this", 70)
        if tag == "applyNetworkPolicyAmendment":
            rule = body.get("network_policy_amendment")
            rule = rule if isinstance(rule, Mapping) else {}
            verb = "Always deny" if rule.get("action") == "deny" else "Always allow"
            return short(f"{verb} {rule.get('host') or 'this host'}", 70)
        return short(str(tag), 70)
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
        return f"Codex asks to run `{short(_shown_command(prompt), 200)}`"
    return f"Codex asks to change {len(prompt.changes) or 'some'} file(s)"


def approval_blocks(
    prompt: ApprovalPrompt,
    *,
    approval_id: str,
    decisions: Sequence[Any],
    outcome: str | None = None,
) -> list[Block]:
    """An approval message: what Codex wants, then one button per decision, or the outcome.

    Button values are ``<approval_id>:<index into decisions>``; the decisions themselves
    stay server-side with the approval record.
    """
    if prompt.kind == "command":
        title = "*🔐 Codex wants to run a command*"
        # A zero-width space keeps a command's own ``` from closing the code block early.
        shown = escape(truncate(_shown_command(prompt), 2_500)).replace("```", "`\u200b``")
        body = f"```{shown}```"
        details = [f"in `{escape(prompt.cwd)}`"] if prompt.cwd else []
    else:
        title = "*🔐 Codex wants to change files*"
        lines = [f"• {escape(kind)} `{escape(path)}`" for kind, path in prompt.changes[:15]]
        if len(prompt.changes) > 15:
            lines.append(f"• …and {len(prompt.changes) - 15} more")
        body = "\n".join(lines) or "_(the changes were not shown to the bot)_"
        details = []
    blocks = [section(f"{title} for <@{prompt.started_by}>'s turn\n{body}")]
    if prompt.reason:
        details.append(f"reason: {escape(short(prompt.reason, 500))}")
    if details:
        blocks.append(context(" · ".join(details)))
    if outcome is not None:
        blocks.append(context(outcome))
        return blocks
    buttons = [
        button(
            decision_label(decision),
            ACTION_APPROVAL[index],
            f"{approval_id}:{index}",
            style=_decision_style(decision),
        )
        for index, decision in enumerate(list(decisions)[:APPROVAL_BUTTONS])
    ]
    blocks.append(actions("codex_approval", buttons))
    blocks.append(
        context(f"<@{prompt.started_by}> or a configured approver can answer this request.")
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
    return unwrap_shell(prompt.command or "") or "(no command given)"

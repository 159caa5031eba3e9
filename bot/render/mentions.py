"""The other way round: a Slack mention's text as the agent should read it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

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

"""What a turn changed, shown in its thread: the files named, the diff attached.

Codex sends the turn's whole diff so far with every ``turn/diff/updated``; the last one is
the turn's change. After the final answer, the thread gets one message naming the changed
files with the diff attached as a ``.diff`` file (slack-sdk's ``files_upload_v2``: needs the
``files:write`` scope). A diff over ``max_bytes``, or one Slack won't take, is not attached,
and the message says why.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot import slack_errors
from bot.replies import post_notice

log = logging.getLogger(__name__)

_PATH = re.compile(r"^\+\+\+ (?:b/)?(.+)$|^diff --git a/\S+ b/(\S+)$", re.MULTILINE)
_SHOWN_PATHS: Final = 15


def changed_paths(diff: str) -> list[str]:
    """The files a unified diff changes, in order, each once (``/dev/null`` left out)."""
    paths: list[str] = []
    for match in _PATH.finditer(diff):
        path = (match.group(1) or match.group(2) or "").strip()
        if path and path != "/dev/null" and path not in paths:
            paths.append(path)
    return paths


def summary(paths: list[str]) -> str:
    """``Changed `a.py`, `b.py` and 3 more files.``"""
    shown = ", ".join(f"`{p}`" for p in paths[:_SHOWN_PATHS])
    more = len(paths) - _SHOWN_PATHS
    if more > 0:
        shown += f" and {more} more file{'s' if more != 1 else ''}"
    return f"Changed {shown}." if paths else "Changed files."


async def share_diff(
    slack: AsyncWebClient,
    *,
    channel: str,
    thread_ts: str,
    diff: str,
    name: str,
    max_bytes: int,
) -> None:
    """Post the turn's change into its thread; see the module docstring."""
    text = summary(changed_paths(diff))
    size = len(diff.encode())
    if size > max_bytes:
        limit = f"The diff ({size // 1024} KB) is over the {max_bytes // 1024} KB limit"
        await post_notice(slack, channel, thread_ts, f"{text} {limit} for attaching it here.")
        return
    try:
        await slack.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            filename=f"{name}.diff",
            title=f"{name}.diff",
            content=diff,
            initial_comment=text,
        )
    except slack_errors.FAILURES as exc:
        why = slack_errors.error_code(exc) or type(exc).__name__
        log.warning("could not attach a turn's diff: %s", why)
        hint = " (the app needs the files:write scope)" if why == "missing_scope" else ""
        await post_notice(
            slack, channel, thread_ts, f"{text} The diff could not be attached{hint}."
        )

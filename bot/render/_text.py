"""Small text helpers shared by the render modules."""

from __future__ import annotations

import re
from typing import Final


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + "…"


def basename(path: str) -> str:
    """The last component of a path (the path itself if it has none)."""
    return path.rstrip("/").rsplit("/", 1)[-1] or path


_SHELL_WRAPPER: Final = re.compile(r"^(?:/\S*/)?(?:ba|z)?sh\s+-l?c\s+(['\"])(.*)\1$", re.DOTALL)


def unwrap_shell(command: str) -> str:
    """The command inside Codex's ``/bin/bash -lc '…'`` wrapper, or the command as is."""
    match = _SHELL_WRAPPER.match(command.strip())
    return match.group(2) if match else command.strip()

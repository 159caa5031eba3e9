"""Files people attach in Slack, handed to Codex: images as image input, text files by path.

A mention's files (and those of the thread messages its context carries) are downloaded with
the bot token (Slack serves ``url_private_download`` only to a token with ``files:read``; to
anyone else it answers a sign-in page, which is refused here, not saved) into the thread's
working area, ``<FILES_DIR>/<team>-<channel>-<thread>/``, a directory the app-server can read.
Images become ``localImage`` input; text files (logs, diffs, CSV, code) are named in the
prompt with their paths. A file over the size limit, past the count limit, of another type,
or that the bot may not read is left out with one line for the thread; the turn runs with the
rest.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp

log = logging.getLogger(__name__)

IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_TYPES: Final = frozenset(
    {"application/json", "application/x-yaml", "application/xml", "application/x-sh"}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_files: int = 10


@dataclass
class Fetched:
    """What the attachments add to a turn: input items, prompt lines, lines for the thread."""

    images: list[str] = field(default_factory=list)
    """Paths of downloaded images (``localImage`` input)."""
    texts: list[tuple[str, str]] = field(default_factory=list)
    """(name, path) of downloaded text files, named in the prompt."""
    problems: list[str] = field(default_factory=list)
    """One line per file left out, for the thread."""

    def prompt_lines(self) -> str:
        if not self.texts and not self.images:
            return ""
        lines = ["Files attached in Slack (saved for you to read):"]
        lines += [f"- {name}: {path}" for name, path in self.texts]
        lines += [f"- image: {path}" for path in self.images]
        return "\n".join(lines)


def kind_of(mimetype: str, name: str) -> str | None:
    """``image``, ``text`` or None (a type Codex is not given)."""
    if mimetype in IMAGE_TYPES:
        return "image"
    if mimetype.startswith("text/") or mimetype in TEXT_TYPES:
        return "text"
    if name.lower().endswith((".log", ".diff", ".patch", ".csv", ".txt", ".md", ".json")):
        return "text"
    return None


class Attachments:
    """Downloads a turn's files; see the module docstring."""

    def __init__(
        self,
        *,
        token: str,
        root: Path,
        limits: FileLimits,
        timeout: float = 30.0,
    ) -> None:
        self._token = token
        self.root = root
        self.limits = limits
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def fetch(self, area: str, files: Sequence[dict[str, str | int]]) -> Fetched:
        """Download ``files`` into the working area ``area`` (a thread's key)."""
        fetched = Fetched()
        if not files:
            return fetched
        directory = self.root / _UNSAFE.sub("-", area)
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            for index, file in enumerate(files):
                name = str(file.get("name") or "file")
                if index >= self.limits.max_files:
                    fetched.problems.append(
                        f"`{name}` was left out: at most {self.limits.max_files} files per turn."
                    )
                    continue
                problem = await self._fetch_one(session, directory, file, fetched)
                if problem is not None:
                    fetched.problems.append(f"`{name}` was left out: {problem}")
        return fetched

    async def _fetch_one(
        self,
        session: aiohttp.ClientSession,
        directory: Path,
        file: dict[str, str | int],
        fetched: Fetched,
    ) -> str | None:
        name = str(file.get("name") or "file")
        kind = kind_of(str(file.get("mimetype") or ""), name)
        if kind is None:
            return (
                f"Codex is given images and text files, not {file.get('mimetype') or 'this type'}."
            )
        size = int(file.get("size") or 0)
        if size > self.limits.max_bytes:
            return f"it is over the {_megabytes(self.limits.max_bytes)} limit."
        url = str(file.get("url") or "")
        if not url:
            return "Slack gave no download link for it."
        try:
            async with session.get(
                url, headers={"Authorization": f"Bearer {self._token}"}
            ) as response:
                content_type = response.headers.get("Content-Type", "")
                if response.status != 200 or content_type.startswith("text/html"):
                    # Slack's sign-in page: the token may not read files (no files:read).
                    return "the bot may not read it (does the app have the files:read scope?)."
                body = await response.content.read(self.limits.max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not download a Slack file: %s", type(exc).__name__)
            return "it could not be downloaded from Slack."
        if len(body) > self.limits.max_bytes:
            return f"it is over the {_megabytes(self.limits.max_bytes)} limit."
        path = (
            directory / f"{_UNSAFE.sub('-', str(file.get('id') or 'F'))}-{_UNSAFE.sub('-', name)}"
        )
        await asyncio.to_thread(path.write_bytes, body)  # up to FILE_MAX_BYTES: not on the loop
        if kind == "image":
            fetched.images.append(str(path))
        else:
            fetched.texts.append((name, str(path)))
        return None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"

"""CommonMark as Slack shows it: mrkdwn conversion, and lossless fence-aware chunking.

Two pure jobs on the agent's markdown, both used by :mod:`bot.render`:

- :func:`to_mrkdwn` converts CommonMark to Slack's older mrkdwn (``**b**`` -> ``*b*``,
  ``[x](url)`` -> ``<url|x>``, headings -> bold lines, lists -> bullets), for the ``text``
  fallback of a message whose body is a ``markdown`` block. Code spans and fences are kept.
- :func:`split_markdown` cuts a text into :class:`Chunk` pieces that each fit a limit. The
  pieces are plain substrings: **their concatenation is the original text**, character for
  character. Cuts prefer paragraph, then line, then word boundaries, and avoid code fences. When
  a cut must fall inside a fence, the piece is *displayed* closed (``"\\n" + marker`` appended)
  and the next one reopened (the fence's opening line prepended); :func:`join_displayed` strips
  exactly those repairs again, so the text is recoverable from what Slack shows. A code line
  too long for one message is cut mid-line and marked with ``↩`` before the close.

Every piece but the last is stable while text is appended, which is what a streaming reply
needs: a message that rolled over never has to change again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CONTINUED",
    "Chunk",
    "Fence",
    "join_displayed",
    "scan_fence",
    "split_markdown",
    "to_mrkdwn",
]

CONTINUED: Final = "\u21a9"
"""Shown where a code line too long for one message was cut."""

_FENCE_OPEN: Final = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")


@dataclass(frozen=True)
class Fence:
    """An open code fence: its opening line and its marker (e.g. ``"```"``)."""

    open_line: str
    marker: str

    def closed_by(self, line: str) -> bool:
        """True if ``line`` (without its newline) closes this fence, per CommonMark."""
        stripped = line.strip(" \t")
        indent = len(line) - len(line.lstrip(" "))
        return (
            indent <= 3 and len(stripped) >= len(self.marker) and set(stripped) == {self.marker[0]}
        )


def scan_fence(text: str, fence: Fence | None = None) -> Fence | None:
    """The fence open at the end of ``text``, given the one open at its start.

    ``text`` is read as starting at a line start, so chunks scanned one after the other, each
    from the previous result, give the same states in :func:`split_markdown` and
    :func:`join_displayed`.
    """
    for line in text.split("\n"):
        if fence is not None:
            if fence.closed_by(line):
                fence = None
            continue
        match = _FENCE_OPEN.match(line)
        if match is None:
            continue
        marker, info = match.group(2), match.group(3)
        if marker[0] == "`" and "`" in info:
            continue  # an inline code span, not a fence (CommonMark forbids ` in the info)
        fence = Fence(open_line=line.rstrip("\r"), marker=marker)
    return fence


class Chunk(str):
    """One piece of a split text: a ``str`` equal to the raw piece, plus how to display it.

    ``prefix`` reopens a fence the previous piece left open; ``suffix`` closes a fence this
    piece leaves open. Both are empty for pieces cut outside fences.
    """

    prefix: str
    suffix: str

    def __new__(cls, raw: str, prefix: str = "", suffix: str = "") -> Chunk:
        chunk = super().__new__(cls, raw)
        chunk.prefix = prefix
        chunk.suffix = suffix
        return chunk

    @property
    def display(self) -> str:
        """What to show in Slack: the raw piece with its fence repairs."""
        return f"{self.prefix}{self}{self.suffix}"


def split_markdown(text: str, limit: int) -> list[Chunk]:
    """Cut ``text`` into pieces whose :attr:`Chunk.display` has at most ``limit`` characters.

    ``"".join(pieces) == text`` always holds. An empty text gives one empty piece.
    """
    if limit < 16:
        raise ValueError("limit must be at least 16 characters")
    if len(text) <= limit:
        return [Chunk(text)]
    chunks: list[Chunk] = []
    pos, fence = 0, None
    while True:
        prefix = f"{fence.open_line}\n" if fence is not None else ""
        if len(prefix) > limit // 2:
            prefix = ""  # an absurd info string: show the piece unrepaired rather than loop
        if len(prefix) + len(text) - pos <= limit:
            chunks.append(Chunk(text[pos:], prefix=prefix))
            return chunks
        room = limit - len(prefix) - 4  # 4 = "\n```", the usual close
        while True:
            cut = _choose_cut(text, pos, pos + room, fence)
            end_fence = scan_fence(text[pos:cut], fence)
            suffix = _close(text[pos:cut], end_fence)
            overshoot = len(prefix) + (cut - pos) + len(suffix) - limit
            if overshoot <= 0:
                break
            room -= overshoot  # a longer marker than reserved for: cut a little earlier
        chunks.append(Chunk(text[pos:cut], prefix=prefix, suffix=suffix))
        pos, fence = cut, end_fence


def _close(raw: str, fence: Fence | None) -> str:
    if fence is None:
        return ""
    if raw.endswith("\n"):
        return fence.marker
    return f"{CONTINUED}\n{fence.marker}"


def _choose_cut(text: str, start: int, end: int, fence: Fence | None) -> int:
    """Where to end the piece starting at ``start``: an index in ``(start, end]``."""
    window = text[start:end]
    half = start + len(window) // 2
    quarter = start + len(window) // 4
    lines = [start + i + 1 for i, char in enumerate(window) if char == "\n"]
    outside: list[int] = []
    inside: list[int] = []
    state, previous = fence, start
    for cut in lines:
        # Each segment ends with its "\n", so the scan sees one more, empty line; that never
        # changes a fence state, so the state at each line cut is exact.
        state = scan_fence(text[previous:cut], state)
        (outside if state is None else inside).append(cut)
        previous = cut
    spaces = [start + i + 1 for i, char in enumerate(window) if char in " \t"]
    tiers = (
        [cut for cut in outside if cut >= half and text[cut - 2 : cut] == "\n\n"],
        [cut for cut in outside if cut >= half],
        # Rather end a piece early, before a code block, than cut the block in two.
        [cut for cut in outside if cut >= quarter],
        [cut for cut in inside if cut >= half],
        [cut for cut in spaces if cut >= half],
        outside,
        spaces,
    )
    for candidates in tiers:
        if candidates:
            return candidates[-1]
    # A hard cut: only inside one long word or code line, never right after a fence line
    # (that line's newline would have been a cut above), which keeps join_displayed exact.
    return end


def join_displayed(displayed: Sequence[str]) -> str:
    """Recover the original text from the displays of :func:`split_markdown`'s pieces."""
    raw_parts: list[str] = []
    fence: Fence | None = None
    for index, shown in enumerate(displayed):
        body = shown
        reopen = f"{fence.open_line}\n" if fence is not None else ""
        if reopen and len(reopen) <= len(shown) and body.startswith(reopen):
            body = body[len(reopen) :]
        if index < len(displayed) - 1:
            body = _strip_close(body, fence)
        raw_parts.append(body)
        fence = scan_fence(body, fence)
    return "".join(raw_parts)


def _strip_close(body: str, fence: Fence | None) -> str:
    newline = body.rfind("\n")
    if newline < 0:
        return body
    candidate, tail = body[:newline], body[newline + 1 :]
    still_open = scan_fence(candidate, fence)
    # Pieces are never cut right after a closing fence line (cuts fall after a newline, a
    # space or inside a long word), so a trailing marker that matches the fence still open
    # is always a repair. Only a cut code line whose own text ends in CONTINUED is ambiguous.
    if still_open is None or tail != still_open.marker:
        return body
    if candidate.endswith(CONTINUED):
        return candidate[: -len(CONTINUED)]
    return f"{candidate}\n"


# -- CommonMark -> mrkdwn -------------------------------------------------------------------

_HEADING: Final = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_BULLET: Final = re.compile(r"^([ \t]*)[-*+][ \t]+")
_QUOTE: Final = re.compile(r"^ {0,3}>")
_RULE: Final = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_CODE_SPAN: Final = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_IMAGE_OR_LINK: Final = re.compile(r"!?\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK: Final = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BOLD: Final = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC: Final = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_STRIKE: Final = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_TOKEN: Final = re.compile("\x00(\\d+)\x00")
_BOLD_MARK: Final = "\x01"


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Slack mrkdwn for a CommonMark text; code is kept, control characters escaped."""
    out: list[str] = []
    fence: Fence | None = None
    for line in markdown.split("\n"):
        if fence is not None:
            if fence.closed_by(line):
                fence = None
                out.append("```")
            else:
                out.append(escape(line))
            continue
        opened = scan_fence(line)
        if opened is not None:
            fence = opened
            out.append("```")
            continue
        out.append(_convert_line(line))
    return "\n".join(out)


def _convert_line(line: str) -> str:
    if _RULE.match(line):
        return "──────────"
    heading = _HEADING.match(line)
    if heading:
        inner = _convert_inline(heading.group(1)).replace("*", "")
        return f"*{inner}*" if inner else ""
    quote = _QUOTE.match(line)
    if quote:
        # mrkdwn quotes need a literal ">", which escaping would turn into "&gt;".
        return f">{_convert_line(line[quote.end() :])}"
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet.group(1)}• {_convert_inline(line[bullet.end() :])}"
    return _convert_inline(line)


def _convert_inline(text: str) -> str:
    tokens: list[str] = []

    def keep(rendered: str) -> str:
        tokens.append(rendered)
        return f"\x00{len(tokens) - 1}\x00"

    def code(match: re.Match[str]) -> str:
        return keep(f"`{escape(match.group(2))}`")

    def link(match: re.Match[str]) -> str:
        label = match.group(1).strip() or match.group(2)
        label = _plain_label(label)
        return keep(f"<{_link_url(match.group(2))}|{escape(label)}>")

    def autolink(match: re.Match[str]) -> str:
        return keep(f"<{_link_url(match.group(1))}>")

    text = _CODE_SPAN.sub(code, text)
    text = _IMAGE_OR_LINK.sub(link, text)
    text = _AUTOLINK.sub(autolink, text)
    text = escape(text)
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    text = text.replace(_BOLD_MARK, "*")
    return _TOKEN.sub(lambda m: tokens[int(m.group(1))], text)


def _plain_label(label: str) -> str:
    # mrkdwn has no formatting inside a link label; drop the markdown emphasis marks.
    return re.sub(r"(\*\*|__|`|~~)", "", label).replace("|", "¦")


def _link_url(url: str) -> str:
    # "<", ">" and "|" end a Slack link early; percent-encoding keeps the URL working.
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")

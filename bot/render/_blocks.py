"""Block Kit builders shared by the render modules.

Blocks are built with :mod:`slack_sdk.models.blocks`, which checks Slack's field limits
(a section's 3,000 characters, a button label's 75…) when :meth:`to_dict` runs, and handed
out as the plain dicts Slack's API takes. Texts are cut to fit before they get there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.render._text import truncate

Block = dict[str, Any]
"""One Block Kit block, as Slack's API takes it."""

SECTION_CHARS: Final = 3_000
"""Slack's cap on a section block's text (a context element's too, for our purposes)."""


def markdown(text: str) -> Block:
    """A ``markdown`` block: Slack renders ``text`` (CommonMark) as is."""
    block: Block = MarkdownBlock(text=text).to_dict()
    return block


def section(text: str) -> Block:
    """A section of mrkdwn ``text``, cut to Slack's limit."""
    block: Block = SectionBlock(
        text=MarkdownTextObject(text=truncate(text, SECTION_CHARS))
    ).to_dict()
    return block


def context(text: str) -> Block:
    """A context line of mrkdwn ``text``, cut to the same limit."""
    block: Block = ContextBlock(
        elements=[MarkdownTextObject(text=truncate(text, SECTION_CHARS))]
    ).to_dict()
    return block


def header(text: str) -> Block:
    """A header of plain ``text`` (at most 150 characters)."""
    block: Block = HeaderBlock(text=PlainTextObject(text=text)).to_dict()
    return block


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> ButtonElement:
    """A button; ``style`` is ``primary``, ``danger`` or None (Slack's default)."""
    return ButtonElement(
        text=PlainTextObject(text=text), action_id=action_id, value=value, style=style
    )


def actions(block_id: str, buttons: Sequence[ButtonElement]) -> Block:
    """A row of ``buttons``."""
    block: Block = ActionsBlock(block_id=block_id, elements=list(buttons)).to_dict()
    return block

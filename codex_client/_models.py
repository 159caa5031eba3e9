"""Typed views of the app-server's objects: thread items, turns, a turn's result.

Attributes are snake_case; each maps to the server's camelCase key (``exit_code`` <->
``exitCode``). Every model keeps unknown keys (``extra="allow"``): the server adds fields
between versions and a client must not break on them, and a new field stays reachable
through ``model_extra`` until a model names it.

A thread item is one of the classes of :data:`ThreadItem`, a union discriminated by the
item's ``type``, one model per shape (as the MCP Python SDK keeps its content blocks):
match on the class, ``isinstance(item, AgentMessageItem)``, rather than on ``type``
strings. An item of a type no class models is an :class:`UnknownItem`, its fields kept as
extras. A user message's ``content`` is typed the same way (:data:`UserInput`).

Raw JSON becomes these models once, where it enters the client: :func:`parse_item`,
:func:`parse_turn` and :func:`~codex_client._events.parse_event`. Models are lenient about
absence (a missing field gets its empty default) but not about shape: an item that does not
fit its model (a field of the wrong type) is dropped and logged, rather than failing the
turn it is in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel

logger = logging.getLogger("codex_client.models")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


def _empty_if_none(empty: Any) -> BeforeValidator:
    """Read an explicit ``null`` as the field's empty value (``""``, ``[]``)."""
    return BeforeValidator(lambda value: empty if value is None else value)


_Text = Annotated[str, _empty_if_none("")]

_OTHER = "<other>"
"""The tag of a union's fallback member: no real ``type`` looks like it."""


def _tag_of(known: frozenset[str]) -> Callable[[Any], str | None]:
    """A discriminator: a known ``type`` picks its class, any other string the fallback, and
    no string at all fails validation."""

    def tag(value: Any) -> str | None:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        if not isinstance(kind, str):
            return None
        return kind if kind in known else _OTHER

    return tag


# -- user input ---------------------------------------------------------------------------


class TextUserInput(_Model):
    """Text the user sent."""

    type: Literal["text"] = "text"
    text: _Text = ""


class ImageUserInput(_Model):
    """An image by ``url`` (or uploaded, ``file_id``)."""

    type: Literal["image"] = "image"
    url: str | None = None
    file_id: str | None = None


class LocalImageUserInput(_Model):
    """An image file on the server's machine."""

    type: Literal["localImage"] = "localImage"
    path: _Text = ""


class UnknownUserInput(_Model):
    """Any other kind of input (``skill``, ``mention``, ``audio``…); its fields are extras."""

    type: str


UserInput = Annotated[
    Annotated[TextUserInput, Tag("text")]
    | Annotated[ImageUserInput, Tag("image")]
    | Annotated[LocalImageUserInput, Tag("localImage")]
    | Annotated[UnknownUserInput, Tag(_OTHER)],
    Discriminator(_tag_of(frozenset({"text", "image", "localImage"}))),
]
"""One part of a user message's ``content``."""


# -- thread items -------------------------------------------------------------------------


class _Item(_Model):
    id: str = ""


class UserMessageItem(_Item):
    """What the user sent: ``content`` parts, and ``client_id``, the
    ``clientUserMessageId`` the turn that sent it was given (None if it had none)."""

    type: Literal["userMessage"] = "userMessage"
    content: Annotated[list[UserInput], _empty_if_none([])] = Field(default_factory=list)
    client_id: str | None = None

    @property
    def text(self) -> str:
        """The text parts of ``content``, joined by spaces."""
        return " ".join(part.text for part in self.content if isinstance(part, TextUserInput))


class AgentMessageItem(_Item):
    """What the agent said. ``phase`` is ``commentary``, ``partial_answer``,
    ``final_answer``, or None when the model did not say (treat it as a final answer)."""

    type: Literal["agentMessage"] = "agentMessage"
    text: _Text = ""
    phase: str | None = None


class ReasoningItem(_Item):
    """The model's reasoning: its ``summary`` and raw ``content`` parts, when shared."""

    type: Literal["reasoning"] = "reasoning"
    summary: Annotated[list[str], _empty_if_none([])] = Field(default_factory=list)
    content: Annotated[list[str], _empty_if_none([])] = Field(default_factory=list)


class PlanItem(_Item):
    """A proposed plan (experimental); the completed item is authoritative."""

    type: Literal["plan"] = "plan"
    text: _Text = ""


class CommandAction(_Model):
    """One part of a command, parsed for display. ``type`` is ``read`` (of ``name`` at
    ``path``), ``listFiles`` (in ``path``), ``search`` (for ``query`` in ``path``) or
    ``unknown``; ``command`` is the part's own command line."""

    type: str = "unknown"
    command: str | None = None
    name: str | None = None
    path: str | None = None
    query: str | None = None


class CommandExecutionItem(_Item):
    """A command the agent runs. ``status`` is ``inProgress``, ``completed``, ``failed`` or
    ``declined``; ``exit_code`` and ``aggregated_output`` arrive with the completed item."""

    type: Literal["commandExecution"] = "commandExecution"
    command: _Text = ""
    cwd: str | None = None
    command_actions: Annotated[list[CommandAction], _empty_if_none([])] = Field(
        default_factory=list
    )
    status: str | None = None
    aggregated_output: str | None = None
    exit_code: int | None = None
    duration_ms: int | None = None


class PatchChangeKind(_Model):
    """How a file changes: ``type`` is ``add``, ``delete`` or ``update`` (which may move the
    file to ``move_path``)."""

    type: str
    move_path: str | None = Field(default=None, alias="move_path")


def _kind(value: Any) -> Any:
    # Older servers sent the kind as a bare string.
    return {"type": value} if isinstance(value, str) else value


class FileUpdateChange(_Model):
    """One file of a file change: its ``path``, ``kind`` and unified ``diff``."""

    path: _Text = ""
    kind: Annotated[PatchChangeKind | None, BeforeValidator(_kind)] = None
    diff: _Text = ""


class FileChangeItem(_Item):
    """Files the agent changes. ``status`` is ``inProgress``, ``completed``, ``failed`` or
    ``declined``."""

    type: Literal["fileChange"] = "fileChange"
    changes: Annotated[list[FileUpdateChange], _empty_if_none([])] = Field(default_factory=list)
    status: str | None = None


class McpToolCallItem(_Item):
    """A call of ``tool`` on the MCP ``server``."""

    type: Literal["mcpToolCall"] = "mcpToolCall"
    server: _Text = ""
    tool: _Text = ""
    status: str | None = None
    arguments: Any = None
    result: Any = None
    error: Any = None


class WebSearchItem(_Item):
    """A web search for ``query``."""

    type: Literal["webSearch"] = "webSearch"
    query: _Text = ""


class UnknownItem(_Item):
    """An item of a type no class here models (``imageView``, ``contextCompaction``…); its
    fields are extras."""

    type: str


ThreadItem = Annotated[
    Annotated[UserMessageItem, Tag("userMessage")]
    | Annotated[AgentMessageItem, Tag("agentMessage")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[PlanItem, Tag("plan")]
    | Annotated[CommandExecutionItem, Tag("commandExecution")]
    | Annotated[FileChangeItem, Tag("fileChange")]
    | Annotated[McpToolCallItem, Tag("mcpToolCall")]
    | Annotated[WebSearchItem, Tag("webSearch")]
    | Annotated[UnknownItem, Tag(_OTHER)],
    Discriminator(
        _tag_of(
            frozenset(
                {
                    "userMessage",
                    "agentMessage",
                    "reasoning",
                    "plan",
                    "commandExecution",
                    "fileChange",
                    "mcpToolCall",
                    "webSearch",
                }
            )
        )
    ),
]
"""One item of a turn: the class tells its kind (see the module's docstring)."""

_ITEM = TypeAdapter[ThreadItem](ThreadItem)


def parse_item(data: Any) -> ThreadItem | None:
    """A validated item, or None (logged) if it does not fit its model."""
    try:
        return _ITEM.validate_python(data)
    except ValidationError as exc:
        logger.warning("ignoring an item that does not fit: %s", exc.errors()[:1])
        return None


# -- turns --------------------------------------------------------------------------------


class TurnError(_Model):
    """Why a turn failed: ``message``, plus ``codex_error_info`` (a string such as
    ``"contextWindowExceeded"`` or an object such as ``{"httpConnectionFailed": {...}}``)."""

    message: str = ""
    codex_error_info: str | dict[str, Any] | None = None
    additional_details: str | None = None


class Turn(_Model):
    """A turn: ``status`` is ``inProgress``, ``completed``, ``interrupted`` or ``failed``."""

    id: str
    status: str = "inProgress"
    items: list[ThreadItem] = Field(default_factory=list)
    items_view: str | None = None
    error: TurnError | None = None
    started_at: int | None = None
    completed_at: int | None = None
    duration_ms: int | None = None


def parse_turn(data: dict[str, Any]) -> Turn:
    """A validated turn; items that do not fit are dropped rather than failing the turn."""
    try:
        return Turn.model_validate(data)
    except ValidationError:
        raw_items = data.get("items")
        items = [i for i in map(parse_item, raw_items or []) if i is not None]
        try:
            turn = Turn.model_validate({**data, "items": []})
        except ValidationError as exc:
            logger.warning("a turn does not fit the model: %s", exc.errors()[:1])
            turn = Turn.model_construct(id=str(data.get("id", "")), status=str(data.get("status")))
        turn.items = items
        return turn


@dataclass
class TurnResult:
    """How a turn ended.

    ``final_text`` is the text of the last completed agent message whose phase is
    ``final_answer`` or unknown; failing that, of the last completed agent message of any
    phase; failing that, ``""``. Deltas of an item that never completed (a steered or
    interrupted turn abandons one) never count.
    """

    status: str
    final_text: str
    error: TurnError | None
    items: list[ThreadItem]
    turn: Turn


@dataclass
class TurnsPage:
    """One page of ``thread/turns/list``.

    ``cursor`` is the cursor this page was fetched with (None for the first page);
    ``next_cursor`` continues in the same direction (older, for the default ``desc``) and
    is None on the last page; ``backwards_cursor`` fetches the other way, anchor included.
    """

    turns: list[Turn]
    next_cursor: str | None
    cursor: str | None
    backwards_cursor: str | None = None

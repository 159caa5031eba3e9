"""Typed views of the app-server objects and turn notifications the client hands out.

Attributes are snake_case; each maps to the server's camelCase key (``thread_id`` <->
``threadId``). Every model keeps unknown keys (``extra="allow"``): the server adds fields
between versions and a client must not break on them, and callers can still reach a new
field through ``model_extra``.

:func:`parse_event` turns one notification into a :data:`TurnEvent`. It runs once per
notification on the consumer side, so it is kept cheap: text deltas, by far the most
frequent event, skip validation (their four fields are plain strings), and a notification
that fails validation degrades to :class:`OtherNotification` instead of raising.

Server-to-client requests (approval prompts and the like) are handed to the pool's
:data:`ApprovalHandler` as :class:`ApprovalRequest` objects; whatever dict the handler
returns is sent back as the JSON-RPC result (``{"decision": "accept"}``,
``{"decision": "decline"}``…). A handler that raises, or a pool without a handler, answers
with a JSON-RPC error, which the server takes as a refusal: an unanswered request would
stall the turn forever. If the connection drops while a handler runs, the handler's task
is cancelled (its answer could no longer be delivered); after the reconnect the server may
ask again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

logger = logging.getLogger("codex_client.models")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


class TurnError(_Model):
    """Why a turn failed: ``message``, plus ``codex_error_info`` (a string such as
    ``"contextWindowExceeded"`` or an object such as ``{"httpConnectionFailed": {...}}``)."""

    message: str = ""
    codex_error_info: str | dict[str, Any] | None = None
    additional_details: str | None = None


class ThreadItem(_Model):
    """One item of a turn, tagged by ``type`` (``agentMessage``, ``userMessage``,
    ``commandExecution``, ``fileChange``, ``reasoning``…). Fields not listed here, such as a
    user message's ``content``, stay reachable as extras."""

    type: str
    id: str = ""
    text: str | None = None
    phase: str | None = None
    status: str | None = None
    command: str | None = None
    cwd: str | None = None
    aggregated_output: str | None = None
    exit_code: int | None = None
    client_id: str | None = None
    """A user message's ``clientUserMessageId``, as the turn that sent it was given."""


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


def parse_item(data: Any) -> ThreadItem | None:
    """A validated item, or None (logged) if it does not fit the model."""
    try:
        return ThreadItem.model_validate(data)
    except ValidationError as exc:
        logger.warning("ignoring an item that does not fit: %s", exc.errors()[:1])
        return None


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


class _Event(_Model):
    METHOD: ClassVar[str] = ""


class TurnStarted(_Event):
    """``turn/started``: the turn is running (its ``items`` are empty)."""

    METHOD: ClassVar[str] = "turn/started"
    thread_id: str
    turn: Turn

    @property
    def turn_id(self) -> str:
        return self.turn.id


class ItemStarted(_Event):
    """``item/started``: an item began; deltas for it may follow."""

    METHOD: ClassVar[str] = "item/started"
    thread_id: str
    turn_id: str
    item: ThreadItem
    started_at_ms: int | None = None


class ItemCompleted(_Event):
    """``item/completed``: the authoritative final form of an item."""

    METHOD: ClassVar[str] = "item/completed"
    thread_id: str
    turn_id: str
    item: ThreadItem
    completed_at_ms: int | None = None


class AgentMessageDelta(_Event):
    """``item/agentMessage/delta``: more text for the agent message ``item_id``.

    Concatenate per ``item_id``: a steered turn can abandon an item that never completes.
    """

    METHOD: ClassVar[str] = "item/agentMessage/delta"
    thread_id: str
    turn_id: str
    item_id: str
    delta: str


class TurnCompleted(_Event):
    """``turn/completed``: the last event of a turn, whatever its final status."""

    METHOD: ClassVar[str] = "turn/completed"
    thread_id: str
    turn: Turn

    @property
    def turn_id(self) -> str:
        return self.turn.id


class TurnErrorEvent(_Event):
    """``error``: the turn hit an error; ``will_retry`` means the server is retrying."""

    METHOD: ClassVar[str] = "error"
    thread_id: str
    turn_id: str
    error: TurnError
    will_retry: bool = False


class OtherNotification(_Event):
    """Any other notification about the turn or its thread, kept raw."""

    method: str
    params: dict[str, Any]
    thread_id: str | None = None
    turn_id: str | None = None


TurnEvent = (
    TurnStarted
    | ItemStarted
    | ItemCompleted
    | AgentMessageDelta
    | TurnCompleted
    | TurnErrorEvent
    | OtherNotification
)

_TYPED: dict[str, type[_Event]] = {
    cls.METHOD: cls
    for cls in (TurnStarted, ItemStarted, ItemCompleted, TurnCompleted, TurnErrorEvent)
}


_new = object.__new__
_set = object.__setattr__
_E = TypeVar("_E", bound=_Event)


def _construct(cls: type[_E], values: dict[str, Any]) -> _E:
    """``cls.model_construct(**values)`` for a model whose every field is in ``values``.

    model_construct was the largest cost on the delta path (it walks every field and its
    defaults); this sets the same four slots directly. A unit test checks the result equals
    a validated model, so a pydantic change that breaks this is caught.
    """
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", {})
    _set(model, "__pydantic_private__", None)
    return model


def parse_event(method: str, params: dict[str, Any]) -> TurnEvent:
    """The typed event for one notification; unknown or invalid ones become OtherNotification."""
    if method == "item/agentMessage/delta":
        delta = params.get("delta")
        item_id = params.get("itemId")
        if delta.__class__ is str and item_id.__class__ is str:
            return _construct(
                AgentMessageDelta,
                {
                    "thread_id": params.get("threadId", ""),
                    "turn_id": params.get("turnId", ""),
                    "item_id": item_id,
                    "delta": delta,
                },
            )
    else:
        cls = _TYPED.get(method)
        if cls is not None:
            try:
                event: TurnEvent = cls.model_validate(params)  # type: ignore[assignment]
            except ValidationError:
                pass
            else:
                return event
    return _construct(
        OtherNotification,
        {
            "method": method,
            "params": params,
            "thread_id": params.get("threadId"),
            "turn_id": params.get("turnId"),
        },
    )


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


COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"


@dataclass
class ApprovalRequest:
    """One server-to-client request, with the ids needed to route it to a conversation."""

    method: str
    request_id: int | str
    thread_id: str | None
    turn_id: str | None
    params: dict[str, Any]
    endpoint_key: str

    @property
    def item_id(self) -> str | None:
        """The item (command, file change…) the request is about, when it names one."""
        value = self.params.get("itemId")
        return value if isinstance(value, str) else None

    @property
    def command(self) -> str | None:
        """The command line awaiting approval (command approvals only)."""
        value = self.params.get("command")
        return value if isinstance(value, str) else None

    @property
    def reason(self) -> str | None:
        """The model's stated reason, when it gave one."""
        value = self.params.get("reason")
        return value if isinstance(value, str) else None

    @property
    def available_decisions(self) -> list[Any]:
        """The decisions the server offers (strings or objects); empty when it lists none."""
        value = self.params.get("availableDecisions")
        return list(value) if isinstance(value, list) else []


ApprovalHandler = Callable[[ApprovalRequest], Awaitable[dict[str, Any]]]

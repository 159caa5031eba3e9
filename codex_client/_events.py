"""A turn's notifications as typed events.

:func:`parse_event` turns one notification into a :data:`TurnEvent`. It runs once per
notification on the consumer side, so it is kept cheap: text deltas, by far the most
frequent event, skip validation (their four fields are plain strings), and a notification
that fails validation (an item that does not fit its model, say) degrades to
:class:`OtherNotification` instead of raising.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError

from ._models import ThreadItem, Turn, TurnError, _Model


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

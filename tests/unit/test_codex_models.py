"""Typed turn events and the final-text rule of a turn's result."""

from __future__ import annotations

from typing import Any

from codex_client import (
    AgentMessageDelta,
    ItemCompleted,
    OtherNotification,
    TurnCompleted,
    TurnErrorEvent,
    TurnStarted,
)
from codex_client._models import parse_event
from codex_client._routing import summarise


def agent(item_id: str, text: str, phase: str | None = None) -> dict[str, Any]:
    return {"type": "agentMessage", "id": item_id, "text": text, "phase": phase}


def test_each_turn_notification_becomes_its_typed_event() -> None:
    """turn/started, item/completed, deltas, error and turn/completed parse to their classes."""
    turn = {"id": "u", "items": [], "status": "inProgress"}
    started = parse_event("turn/started", {"threadId": "t", "turn": turn})
    item = parse_event(
        "item/completed",
        {"threadId": "t", "turnId": "u", "item": agent("m", "hi"), "completedAtMs": 5},
    )
    delta = parse_event(
        "item/agentMessage/delta", {"threadId": "t", "turnId": "u", "itemId": "m", "delta": "h"}
    )
    error = parse_event(
        "error",
        {
            "threadId": "t",
            "turnId": "u",
            "willRetry": True,
            "error": {"message": "boom", "codexErrorInfo": {"httpConnectionFailed": {}}},
        },
    )
    done = parse_event("turn/completed", {"threadId": "t", "turn": {**turn, "status": "failed"}})
    assert isinstance(started, TurnStarted)
    assert started.turn_id == "u"
    assert isinstance(item, ItemCompleted)
    assert (item.item.type, item.item.text, item.completed_at_ms) == ("agentMessage", "hi", 5)
    assert isinstance(delta, AgentMessageDelta)
    assert (delta.thread_id, delta.turn_id, delta.item_id, delta.delta) == ("t", "u", "m", "h")
    assert isinstance(error, TurnErrorEvent)
    assert error.will_retry
    assert error.error.codex_error_info == {"httpConnectionFailed": {}}
    assert isinstance(done, TurnCompleted)
    assert (done.turn_id, done.turn.status) == ("u", "failed")


def test_unknown_fields_are_kept_not_rejected() -> None:
    """Fields the models do not declare survive as extras."""
    event = parse_event(
        "item/started",
        {
            "threadId": "t",
            "turnId": "u",
            "startedAtMs": 1,
            "brandNew": 1,
            "item": {"type": "userMessage", "id": "i", "content": [{"type": "text"}]},
        },
    )
    assert event.model_extra == {"brandNew": 1}
    assert event.item.model_extra == {"content": [{"type": "text"}]}  # type: ignore[union-attr]


def test_unknown_and_invalid_notifications_degrade_to_other() -> None:
    """An unknown method, or a known one with a broken shape, is an OtherNotification."""
    unknown = parse_event("thread/status/changed", {"threadId": "t", "status": {"type": "idle"}})
    broken = parse_event("turn/started", {"threadId": "t", "turn": "not an object"})
    assert isinstance(unknown, OtherNotification)
    assert (unknown.method, unknown.thread_id, unknown.turn_id) == (
        "thread/status/changed",
        "t",
        None,
    )
    assert isinstance(broken, OtherNotification)
    assert broken.method == "turn/started"


def done(status: str = "completed", items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": "u", "status": status, "items": items or []}


def test_final_text_is_the_last_completed_final_answer() -> None:
    """Commentary before the final answer does not count; the final_answer does."""
    result = summarise(
        done(), [agent("a", "thinking…", "commentary"), agent("b", "the answer", "final_answer")]
    )
    assert (result.status, result.final_text) == ("completed", "the answer")


def test_a_message_without_phase_counts_as_final() -> None:
    """An agent message of unknown phase is a final answer candidate."""
    result = summarise(done(), [agent("a", "first"), agent("b", "commentary", "commentary")])
    assert result.final_text == "first"


def test_with_only_commentary_the_last_message_is_used() -> None:
    """With no final-answer candidate, the last completed agent message is the text."""
    result = summarise(done(), [agent("a", "one", "commentary"), agent("b", "two", "commentary")])
    assert result.final_text == "two"


def test_turn_items_fill_in_messages_never_seen_completing() -> None:
    """A final message listed only in turn/completed.turn.items still becomes the text."""
    result = summarise(done(items=[agent("z", "from the summary")]), [])
    assert result.final_text == "from the summary"
    assert [i.id for i in result.items] == ["z"]


def test_no_completed_message_means_empty_text_and_the_error_is_kept() -> None:
    """A failed turn with no agent message has "" as text and its TurnError."""
    turn = {
        **done("failed"),
        "error": {"message": "stream disconnected", "codexErrorInfo": "other"},
    }
    result = summarise(turn, [])
    assert result.final_text == ""
    assert result.error is not None
    assert result.error.message == "stream disconnected"
    assert result.turn.status == "failed"


def test_the_fast_delta_path_builds_the_same_model_as_validation() -> None:
    """The unvalidated delta (the hot path) equals a validated one, field sets included."""
    params = {"threadId": "t", "turnId": "u", "itemId": "m", "delta": "x"}
    fast = parse_event("item/agentMessage/delta", params)
    slow = AgentMessageDelta.model_validate(params)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump(by_alias=True) == params
    assert isinstance(fast, AgentMessageDelta)
    assert fast.model_copy(update={"delta": "y"}).delta == "y"


def test_a_delta_of_the_wrong_shape_is_not_fast_tracked() -> None:
    """A delta whose text is not a string falls back to OtherNotification, unvalidated."""
    event = parse_event("item/agentMessage/delta", {"threadId": "t", "itemId": "m", "delta": 3})
    assert isinstance(event, OtherNotification)
    assert event.params["delta"] == 3


def test_an_item_of_the_wrong_shape_is_dropped_not_fatal() -> None:
    """A turn whose items include one that does not fit still summarises from the rest."""
    turn = done(items=[{"id": "bad", "type": "agentMessage", "text": ["not", "text"]}])
    result = summarise(turn, [agent("a", "fine"), {"type": "agentMessage", "text": 5}])
    assert result.final_text == "fine"
    assert result.items == []
    assert result.status == "completed"

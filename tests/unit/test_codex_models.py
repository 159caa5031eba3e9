"""Typed items, turn events and approval requests, and the final-text rule of a turn's result."""

from __future__ import annotations

from typing import Any

import pytest

from codex_client import (
    AgentMessageDelta,
    AgentMessageItem,
    ApprovalRequest,
    CommandExecutionApproval,
    CommandExecutionItem,
    FileChangeApproval,
    FileChangeItem,
    GenericRequest,
    ImageUserInput,
    ItemCompleted,
    ItemStarted,
    LocalImageUserInput,
    McpToolCallItem,
    OtherNotification,
    PermissionsApproval,
    PlanItem,
    ReasoningItem,
    TextUserInput,
    TurnCompleted,
    TurnErrorEvent,
    TurnStarted,
    UnknownItem,
    UnknownUserInput,
    UserMessageItem,
    WebSearchItem,
)
from codex_client._events import parse_event
from codex_client._models import parse_item, parse_turn
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
    assert isinstance(item.item, AgentMessageItem)
    assert (item.item.id, item.item.text, item.completed_at_ms) == ("m", "hi", 5)
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
            "item": {
                "type": "userMessage",
                "id": "i",
                "content": [{"type": "text", "text": "hi", "text_elements": []}],
                "brandNew": 2,
            },
        },
    )
    assert isinstance(event, ItemStarted)
    assert event.model_extra == {"brandNew": 1}
    assert isinstance(event.item, UserMessageItem)
    assert event.item.model_extra == {"brandNew": 2}
    assert event.item.content[0].model_extra == {"text_elements": []}


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


@pytest.mark.parametrize(
    ("wire", "cls"),
    [
        ({"type": "userMessage", "id": "u", "content": []}, UserMessageItem),
        ({"type": "agentMessage", "id": "a", "text": "t"}, AgentMessageItem),
        ({"type": "reasoning", "id": "r", "summary": ["s"]}, ReasoningItem),
        ({"type": "plan", "id": "p", "text": "1. x"}, PlanItem),
        ({"type": "commandExecution", "id": "c", "command": "ls"}, CommandExecutionItem),
        ({"type": "fileChange", "id": "f", "changes": []}, FileChangeItem),
        ({"type": "mcpToolCall", "id": "m", "server": "s", "tool": "t"}, McpToolCallItem),
        ({"type": "webSearch", "id": "w", "query": "q"}, WebSearchItem),
        ({"type": "imageView", "id": "i", "path": "/p.png"}, UnknownItem),
    ],
)
def test_each_item_type_parses_to_its_class(wire: dict[str, Any], cls: type[object]) -> None:
    """The ``type`` picks the class; a type no class models is an UnknownItem with extras."""
    item = parse_item(wire)
    assert item is not None
    assert type(item) is cls
    assert item.id == wire["id"]
    if isinstance(item, UnknownItem):
        assert (item.type, item.model_extra) == ("imageView", {"path": "/p.png"})


def test_a_command_execution_is_typed_to_its_fields() -> None:
    """Command, cwd, status, exit code, output and the parsed actions are typed fields."""
    item = parse_item(
        {
            "type": "commandExecution",
            "id": "c",
            "command": "/bin/bash -lc 'cat a.py'",
            "cwd": "/w",
            "status": "completed",
            "exitCode": 0,
            "aggregatedOutput": "x = 1\n",
            "durationMs": 12,
            "processId": "p1",
            "commandActions": [
                {"type": "read", "command": "cat a.py", "name": "a.py", "path": "a"}
            ],
        }
    )
    assert isinstance(item, CommandExecutionItem)
    assert (item.cwd, item.status, item.exit_code, item.aggregated_output) == (
        "/w",
        "completed",
        0,
        "x = 1\n",
    )
    assert [(a.type, a.name, a.command) for a in item.command_actions] == [
        ("read", "a.py", "cat a.py")
    ]
    assert item.model_extra == {"processId": "p1"}


def test_file_changes_and_user_content_are_typed() -> None:
    """A change's kind is an object (or an older bare string); content parts have classes."""
    changes = parse_item(
        {
            "type": "fileChange",
            "id": "f",
            "status": "inProgress",
            "changes": [
                {"path": "a.py", "kind": {"type": "update", "move_path": "b.py"}, "diff": "@@"},
                {"path": "c.py", "kind": "add", "diff": ""},
            ],
        }
    )
    assert isinstance(changes, FileChangeItem)
    kinds = [(c.path, c.kind.type if c.kind else None) for c in changes.changes]
    assert kinds == [("a.py", "update"), ("c.py", "add")]
    assert changes.changes[0].kind is not None
    assert changes.changes[0].kind.move_path == "b.py"
    message = parse_item(
        {
            "type": "userMessage",
            "id": "u",
            "clientId": "slack:U1:1",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "url": "https://x/i.png"},
                {"type": "localImage", "path": "/tmp/i.png"},
                {"type": "skill", "name": "s", "path": "/s"},
                {"type": "text", "text": "here"},
            ],
        }
    )
    assert isinstance(message, UserMessageItem)
    assert [type(p) for p in message.content] == [
        TextUserInput,
        ImageUserInput,
        LocalImageUserInput,
        UnknownUserInput,
        TextUserInput,
    ]
    assert (message.text, message.client_id) == ("look here", "slack:U1:1")


def test_items_that_do_not_fit_are_dropped_and_their_events_degrade() -> None:
    """No type, or a field of the wrong shape: parse_item gives None, parse_turn drops the
    item, and an item event becomes an OtherNotification, never an exception."""
    assert parse_item({"id": "x"}) is None
    assert parse_item({"type": 3}) is None
    assert parse_item({"type": "commandExecution", "exitCode": "zero"}) is None
    turn = parse_turn(
        {
            "id": "u",
            "status": "completed",
            "items": [{"type": "fileChange", "changes": 5}, agent("a", "ok")],
        }
    )
    assert [type(i) for i in turn.items] == [AgentMessageItem]
    event = parse_event(
        "item/started",
        {"threadId": "t", "turnId": "u", "item": {"type": "fileChange", "changes": 5}},
    )
    assert isinstance(event, OtherNotification)
    assert parse_item({"type": "agentMessage", "id": "n", "text": None}) == AgentMessageItem(id="n")


def _approval(method: str, **params: Any) -> ApprovalRequest:
    return ApprovalRequest(method, 0, "t", "u", params, "ws://x")


def test_approval_requests_are_typed_by_method() -> None:
    """Command, file-change and permission approvals get their classes; anything else, or
    params that do not fit, a GenericRequest holding the params as extras."""
    ids = {"threadId": "t", "turnId": "u", "itemId": "i"}
    command = _approval(
        "item/commandExecution/requestApproval",
        **ids,
        command="ls",
        cwd="/w",
        availableDecisions=["accept", {"acceptWithExecpolicyAmendment": {}}],
        commandActions=[{"type": "listFiles", "command": "ls"}],
        networkApprovalContext=None,
    )
    files = _approval("item/fileChange/requestApproval", **ids, reason="why")
    grants = _approval("item/permissions/requestApproval", **ids, cwd="/w", permissions={})
    other = _approval("item/tool/requestUserInput", **ids, questions=[])
    broken = _approval("item/fileChange/requestApproval", threadId="t")
    assert isinstance(command.details, CommandExecutionApproval)
    assert (command.details.command, command.details.cwd, command.details.item_id) == (
        "ls",
        "/w",
        "i",
    )
    assert command.details.available_decisions == ["accept", {"acceptWithExecpolicyAmendment": {}}]
    assert command.details.command_actions is not None
    assert command.details.command_actions[0].type == "listFiles"
    assert isinstance(files.details, FileChangeApproval)
    assert files.details.reason == "why"
    assert isinstance(grants.details, PermissionsApproval)
    assert isinstance(other.details, GenericRequest)
    assert other.details.model_extra == {**ids, "questions": []}
    assert isinstance(broken.details, GenericRequest)
    assert broken.details.model_extra == {"threadId": "t"}

"""The sans-I/O JSON-RPC core, fed plain lists of frames."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import codex_client
from codex_client._protocol import (
    ErrorCode,
    ErrorResponse,
    Malformed,
    Notification,
    ProtocolCore,
    Response,
    ServerRequest,
)


def test_request_ids_count_up_and_frames_carry_no_jsonrpc_member() -> None:
    """Our ids are 1, 2, 3…; frames are compact JSON without "jsonrpc"."""
    core = ProtocolCore()
    first = core.build_request("initialize", {"a": 1})
    second = core.build_request("thread/start", None)
    assert first == (1, '{"id":1,"method":"initialize","params":{"a":1}}')
    assert second == (2, '{"id":2,"method":"thread/start"}')
    assert core.pending == {1: "initialize", 2: "thread/start"}
    assert "jsonrpc" not in core.build_notification("initialized")


def test_out_of_order_answers_match_their_requests_by_id() -> None:
    """Answers arriving in any order resolve the right requests and leave the table."""
    core = ProtocolCore()
    core.build_request("a", {})
    core.build_request("b", {})
    events = core.receive('{"id":2,"result":{"x":2}}') + core.receive('{"id":1,"result":{}}')
    assert events == [Response(2, "b", {"x": 2}), Response(1, "a", {})]
    assert core.pending == {}


def test_notifications_before_an_answer_come_out_in_frame_order() -> None:
    """A notification that beats the answer to the request that caused it is reported first."""
    core = ProtocolCore()
    core.build_request("turn/start", {})
    frames = [
        '{"method":"turn/started","params":{"threadId":"t","turn":{"id":"u"}}}',
        '{"id":1,"result":{"turn":{"id":"u"}}}',
    ]
    events = [e for f in frames for e in core.receive(f)]
    assert events == [
        Notification("turn/started", {"threadId": "t", "turn": {"id": "u"}}),
        Response(1, "turn/start", {"turn": {"id": "u"}}),
    ]


def test_server_requests_have_their_own_id_space() -> None:
    """A server request with id 1 is a request even while our request 1 is pending."""
    core = ProtocolCore()
    core.build_request("turn/start", {})
    events = core.receive('{"id":1,"method":"item/commandExecution/requestApproval","params":{}}')
    assert events == [ServerRequest(1, "item/commandExecution/requestApproval", {})]
    assert core.pending == {1: "turn/start"}


def test_string_ids_and_error_answers_are_understood() -> None:
    """A string id echoed back, and an error answer, resolve the request with code and data."""
    core = ProtocolCore()
    core.build_request("x", {})
    core._pending["abc"] = "y"
    events = core.receive(
        '{"id":"abc","error":{"code":-32600,"message":"no active turn to steer","data":{"k":1}}}'
    )
    assert events == [ErrorResponse("abc", "y", -32600, "no active turn to steer", {"k": 1})]


def test_malformed_frames_become_malformed_events_not_exceptions() -> None:
    """Bad JSON, non-objects, bad ids and bad params are reported, never raised."""
    core = ProtocolCore()
    frames: list[str | bytes] = [
        "{not json",
        "[]",
        "42",
        '{"id":true,"result":{}}',
        '{"method":7}',
        '{"method":"x","params":[1]}',
        '{"result":{}}',
        b"\xff\xfe",
    ]
    events = [e for f in frames for e in core.receive(f)]
    assert [type(e) for e in events] == [Malformed] * len(frames)
    assert all(isinstance(e, Malformed) and e.reason for e in events)


def test_an_answer_to_an_unknown_or_forgotten_id_is_dropped() -> None:
    """A late answer after forget() (a timed-out request) is Malformed, not a response."""
    core = ProtocolCore()
    request_id, _ = core.build_request("slow", {})
    core.forget(request_id)
    [event] = core.receive(json.dumps({"id": request_id, "result": {}}))
    assert isinstance(event, Malformed)
    assert "unknown request id" in event.reason


def test_unknown_methods_and_fields_pass_through_untouched() -> None:
    """An unknown notification keeps its params, extra top-level keys are ignored."""
    core = ProtocolCore()
    frame = '{"method":"brand/new","params":{"z":[1]},"emittedAtMs":5,"jsonrpc":"2.0"}'
    assert core.receive(frame) == [Notification("brand/new", {"z": [1]})]
    assert core.receive('{"method":"initialized"}') == [Notification("initialized", {})]


def test_a_batch_array_yields_one_event_per_member() -> None:
    """A JSON array is read as a batch, each member classified on its own."""
    core = ProtocolCore()
    events = core.receive('[{"method":"a"}, 3, {"method":"b","params":{}}]')
    assert [type(e) for e in events] == [Notification, Malformed, Notification]


def test_bytes_frames_are_accepted() -> None:
    """Stdio lines arrive as bytes (with a newline) and parse like text frames."""
    core = ProtocolCore()
    assert core.receive(b'{"method":"warning","params":{"message":"\xc3\xa9"}}\n') == [
        Notification("warning", {"message": "é"})
    ]


def test_non_object_results_are_wrapped_so_the_caller_still_wakes() -> None:
    """A null result becomes {} and a scalar result is wrapped as {"value": ...}."""
    core = ProtocolCore()
    core.build_request("a", {})
    core.build_request("b", {})
    assert core.receive('{"id":1,"result":null}') == [Response(1, "a", {})]
    assert core.receive('{"id":2,"result":3}') == [Response(2, "b", {"value": 3})]


def test_fail_all_empties_the_pending_table() -> None:
    """fail_all returns every pending request and forgets them."""
    core = ProtocolCore()
    core.build_request("a", {})
    core.build_request("b", {})
    assert core.fail_all() == {1: "a", 2: "b"}
    assert core.pending == {}


def test_answers_to_server_requests_are_built_with_the_servers_id() -> None:
    """Results and errors for server requests echo the server's id, in either id type."""
    assert json.loads(ProtocolCore.build_result(0, {"decision": "accept"})) == {
        "id": 0,
        "result": {"decision": "accept"},
    }
    assert json.loads(ProtocolCore.build_error("r1", -32601, "nope")) == {
        "id": "r1",
        "error": {"code": -32601, "message": "nope"},
    }


def test_error_codes_are_written_only_in_the_error_code_table() -> None:
    """No module of the client but _protocol.py spells a JSON-RPC error code as a number."""
    package = Path(codex_client.__file__).parent
    found = [
        f"{path.name}:{node.lineno}"
        for path in sorted(package.glob("*.py"))
        if path.name != "_protocol.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int)
        and 32000 <= node.operand.value <= 32768
    ]
    assert found == []
    assert int(ErrorCode.SERVER_OVERLOADED) == -32001
    assert ErrorCode(-32603) is ErrorCode.INTERNAL_ERROR


def test_a_frame_that_cannot_be_sent_fails_before_any_state_changes() -> None:
    """Params that are not JSON, or text that is not UTF-8, raise without using an id."""
    core = ProtocolCore()
    with pytest.raises(TypeError):
        core.build_request("turn/start", {"input": object()})
    with pytest.raises(ValueError, match="surrogate"):
        core.build_request("turn/start", {"input": "half an emoji \ud83d"})
    with pytest.raises(ValueError, match="surrogate"):
        ProtocolCore.build_result(0, {"text": "\udc00"})
    assert core.pending == {}
    assert core.build_request("a", {})[0] == 1

"""The JSON-RPC dialect of the Codex app-server, without any I/O.

The app-server speaks JSON-RPC 2.0 *shapes* with no ``"jsonrpc"`` member, one JSON object
per WebSocket text frame or stdio line. Both sides send requests: ours get ids from this
core (1, 2, 3, …); the server numbers its own requests from 0 in a separate id space, so a
frame's kind is told from its keys, never from its id:

- ``{id, method, params?}``  a request from the server (approval prompts and the like);
- ``{method, params?}``      a notification;
- ``{id, result}``           the answer to one of our requests;
- ``{id, error}``            an error answer to one of our requests.

:class:`ProtocolCore` allocates ids, remembers which requests are pending, and turns each
received frame into a list of events. Anything it cannot make sense of becomes
:class:`Malformed` rather than an exception, because the server itself drops bad frames
without killing the connection, and so should we. The I/O layers feed it frames and act on
its events; tests feed it plain strings.

:class:`ErrorCode` is the one table of the JSON-RPC error codes the client sends or tells
apart; nothing else in the package writes a code as a number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

RequestId = int | str


class ErrorCode(IntEnum):
    """JSON-RPC error codes, as the app-server uses them.

    The server puts nearly every refusal under ``INVALID_REQUEST`` and tells them apart by
    message (see :func:`codex_client._errors.rpc_error`); ``SERVER_OVERLOADED`` is its
    backpressure answer, sent before the request ran, so it is always safe to retry.
    """

    SERVER_OVERLOADED = -32001
    """The server's request queue is full: retry later (the only retried error)."""
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    """The server's catch-all: unknown method, bad params, no active turn, unknown thread…"""
    METHOD_NOT_FOUND = -32601
    """Sent by this client to a server request it has no handler for."""
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    """Sent by this client when its approval handler failed; stands in for a malformed
    error object received from the server."""


@dataclass(slots=True)
class Response:
    """A successful answer to our request ``id`` (which was for ``method``)."""

    id: RequestId
    method: str
    result: dict[str, Any]


@dataclass(slots=True)
class ErrorResponse:
    """An error answer to our request ``id`` (which was for ``method``)."""

    id: RequestId
    method: str
    code: int
    message: str
    data: Any


@dataclass(slots=True)
class Notification:
    """A notification from the server; ``params`` is ``{}`` when the frame had none."""

    method: str
    params: dict[str, Any]


@dataclass(slots=True)
class ServerRequest:
    """A request from the server that must be answered, with the server's own ``id``."""

    id: RequestId
    method: str
    params: dict[str, Any]


@dataclass(slots=True)
class Malformed:
    """A frame that was dropped, and why (bad JSON, unknown shape, unexpected id…)."""

    frame: str
    reason: str


Event = Response | ErrorResponse | Notification | ServerRequest | Malformed

_NO_PARAMS: dict[str, Any] = {}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _encode(message: dict[str, Any]) -> str:
    """A frame for ``message``; raises TypeError or ValueError if it is not JSON, or not
    UTF-8 (a lone surrogate, such as half of a cut emoji), before any state changes."""
    frame = _dumps(message)
    if not frame.isascii():
        frame.encode()  # UnicodeEncodeError here rather than in a transport's send
    return frame


# json.loads minus its argument checks: this runs once per received frame.
_decode = json.JSONDecoder().decode


class ProtocolCore:
    """Request ids, the pending-request table and frame parsing for one connection.

    Not thread-safe and not async: one connection owns one core and calls it from its
    own task.
    """

    __slots__ = ("_next_id", "_pending")

    def __init__(self) -> None:
        self._next_id = 1
        self._pending: dict[RequestId, str] = {}

    @property
    def pending(self) -> dict[RequestId, str]:
        """A copy of the pending table: request id -> method."""
        return dict(self._pending)

    def build_request(self, method: str, params: dict[str, Any] | None) -> tuple[int, str]:
        """Allocate an id for a request and return it with the frame to send.

        Raises TypeError or ValueError, and allocates nothing, if ``params`` cannot be sent.
        """
        request_id = self._next_id
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        frame = _encode(message)
        self._next_id += 1
        self._pending[request_id] = method
        return request_id, frame

    def forget(self, request_id: RequestId) -> None:
        """Stop waiting for ``request_id`` (timed out or cancelled); a late answer is dropped."""
        self._pending.pop(request_id, None)

    def fail_all(self) -> dict[RequestId, str]:
        """Empty the pending table (the connection is gone) and return what was in it."""
        pending, self._pending = self._pending, {}
        return pending

    @staticmethod
    def build_notification(method: str, params: dict[str, Any] | None = None) -> str:
        """The frame for a notification to the server."""
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        return _encode(message)

    @staticmethod
    def build_result(request_id: RequestId, result: dict[str, Any]) -> str:
        """The frame answering a server request with ``result`` (TypeError or ValueError if
        it cannot be sent)."""
        return _encode({"id": request_id, "result": result})

    @staticmethod
    def build_error(request_id: RequestId, code: int, message: str) -> str:
        """The frame answering a server request with a JSON-RPC error."""
        return _dumps({"id": request_id, "error": {"code": int(code), "message": message}})

    def receive(self, frame: str | bytes) -> list[Event]:
        """Parse one received frame into events (a JSON array is treated as a batch)."""
        try:
            message = _decode(frame if isinstance(frame, str) else frame.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            return [Malformed(_text(frame), f"invalid JSON: {exc}")]
        if message.__class__ is dict:
            # The hot path: a notification with object params (nearly every frame).
            if "id" not in message:
                method = message.get("method")
                params = message.get("params", _NO_PARAMS)
                if method.__class__ is str and params.__class__ is dict:
                    return [Notification(method, params)]
            return [self._classify(message, frame)]
        if isinstance(message, list) and message:
            return [
                self._classify(item, frame)
                if isinstance(item, dict)
                else Malformed(_text(frame), "batch member is not an object")
                for item in message
            ]
        return [Malformed(_text(frame), "not a JSON object")]

    def _classify(self, message: dict[str, Any], frame: str | bytes) -> Event:
        method = message.get("method")
        if method is not None:
            if not isinstance(method, str):
                return Malformed(_text(frame), "method is not a string")
            params = message.get("params")
            if params is None:
                params = {}
            elif not isinstance(params, dict):
                return Malformed(_text(frame), "params is not an object")
            if "id" in message:
                request_id = message["id"]
                if not _valid_id(request_id):
                    return Malformed(_text(frame), "request id is neither int nor string")
                return ServerRequest(request_id, method, params)
            return Notification(method, params)
        if "id" not in message:
            return Malformed(_text(frame), "neither a method nor an id")
        request_id = message["id"]
        if not _valid_id(request_id):
            return Malformed(_text(frame), "response id is neither int nor string")
        our_method = self._pending.pop(request_id, None)
        if our_method is None:
            return Malformed(_text(frame), f"answer to unknown request id {request_id!r}")
        if "error" in message:
            return _error_response(request_id, our_method, message["error"])
        result = message.get("result")
        if result is None:
            result = {}
        if not isinstance(result, dict):
            # Every app-server result is an object; wrap the odd one rather than drop it,
            # since the waiting caller would otherwise hang until its timeout.
            result = {"value": result}
        return Response(request_id, our_method, result)


def _error_response(request_id: RequestId, method: str, error: Any) -> ErrorResponse:
    if not isinstance(error, dict):
        return ErrorResponse(
            request_id, method, ErrorCode.INTERNAL_ERROR, f"malformed error: {error!r}", None
        )
    code = error.get("code")
    message = error.get("message")
    return ErrorResponse(
        request_id,
        method,
        code if isinstance(code, int) else ErrorCode.INTERNAL_ERROR,
        message if isinstance(message, str) else "",
        error.get("data"),
    )


def _valid_id(value: Any) -> bool:
    # bool is an int subclass, but true/false are not JSON-RPC ids.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _text(frame: str | bytes) -> str:
    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
    return text if len(text) <= 500 else text[:500] + "…"

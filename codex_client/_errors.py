"""Every error ``codex_client`` raises, under one root.

::

    CodexError                    root: ``except CodexError`` catches everything below
    ├── TransportError            the server could not be reached or talked to
    │   └── ConnectionLost        an open connection dropped; pending requests and live
    │                             turn streams fail with it, the pool reconnects behind
    ├── AuthError                 HTTP 401 on the WebSocket upgrade, or unreadable credentials;
    │                             never retried by ``CodexPool.start``
    ├── ProtocolError             a message broke the protocol: the peer's (a result of the
    │                             wrong shape), or ours (params that are not JSON)
    ├── RequestTimeout            no answer within the request timeout
    ├── TurnLost                  a turn to re-attach to is not running on its server any
    │                             more and never finished there (the server restarted)
    └── RpcError                  the server answered a request with a JSON-RPC error
        ├── ServerOverloaded      -32001, still refused after every overload retry
        ├── NoActiveTurn          ``turn/steer`` on a thread with no running turn
        ├── TurnMismatch          ``turn/steer`` named a turn that is not the running one
        └── ThreadNotFound        the thread is unknown to, or not loaded in, the server

``AuthError`` sits outside ``TransportError`` on purpose: code that retries transport
failures must not hammer a server with credentials it already refused.

:func:`rpc_error` turns a JSON-RPC error object into the most specific class. The server
puts nearly everything under -32600, so the split is made on the message text; those texts
are pinned by the unit tests. The codes themselves are in
:class:`~codex_client._protocol.ErrorCode`. Messages never include credentials: auth code
builds its messages from file paths and HTTP status codes only.
"""

from __future__ import annotations

import re
from typing import Any

from ._protocol import ErrorCode

_TURN_MISMATCH = re.compile(r"expected active turn id `([^`]*)` but found `([^`]*)`")
_THREAD_NOT_FOUND = re.compile(r"^thread not (?:found|loaded)\b:?\s*(\S*)")


class CodexError(Exception):
    """Root of every error raised by ``codex_client``."""


class TransportError(CodexError):
    """The server could not be reached, or the byte stream to it failed."""


class ConnectionLost(TransportError):
    """An open connection dropped before the operation finished."""


class AuthError(CodexError):
    """The server refused the credentials (HTTP 401), or they could not be loaded."""


class ProtocolError(CodexError):
    """The peer sent something the protocol does not allow where it was sent, or a request's
    params could not be sent at all (not JSON, or text that is not UTF-8)."""


class RequestTimeout(CodexError):
    """A request got no answer in time.

    The request may still have run on the server: only the wait was abandoned.
    """

    def __init__(self, method: str, timeout: float) -> None:
        super().__init__(f"{method} got no answer within {timeout:g}s")
        self.method = method
        self.timeout = timeout


class TurnLost(CodexError):
    """The server does not run the turn, and has no record of it finishing.

    Raised when re-attaching to a turn (:meth:`ThreadHandle.attach_turn`) whose server
    restarted mid-turn, or that the server never knew. Its result cannot be had: the caller
    should say so and offer to run the request again.
    """

    def __init__(self, thread_id: str, turn_id: str, why: str) -> None:
        super().__init__(f"turn {turn_id} of thread {thread_id} was lost: {why}")
        self.thread_id = thread_id
        self.turn_id = turn_id
        self.why = why


class RpcError(CodexError):
    """The server answered a request with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method} failed ({code}): {message}")
        self.method = method
        self.code = code
        self.message = message
        self.data = data


# The subclasses below default every argument to the server's own wording, so fakes and
# tests can raise them plainly: ``TurnMismatch(expected="a", actual="b")``.


class ServerOverloaded(RpcError):
    """-32001: the server's request queue was full on every attempt."""

    def __init__(
        self,
        method: str = "",
        code: int = ErrorCode.SERVER_OVERLOADED,
        message: str = "Server overloaded; retry later.",
        data: Any = None,
    ) -> None:
        super().__init__(method, code, message, data)


class NoActiveTurn(RpcError):
    """``turn/steer`` found no running turn; start a new turn instead."""

    def __init__(
        self,
        method: str = "turn/steer",
        code: int = ErrorCode.INVALID_REQUEST,
        message: str = "no active turn to steer",
        data: Any = None,
    ) -> None:
        super().__init__(method, code, message, data)


class TurnMismatch(RpcError):
    """``turn/steer`` named ``expected`` but ``actual`` is the running turn."""

    def __init__(
        self,
        method: str = "turn/steer",
        code: int = ErrorCode.INVALID_REQUEST,
        message: str = "",
        data: Any = None,
        *,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        if not message:
            message = f"expected active turn id `{expected or ''}` but found `{actual or ''}`"
        super().__init__(method, code, message, data)
        match = _TURN_MISMATCH.search(message)
        self.expected: str = expected if expected is not None else (match.group(1) if match else "")
        self.actual: str = actual if actual is not None else (match.group(2) if match else "")


class ThreadNotFound(RpcError):
    """The thread is unknown to the server, or not loaded there (resume it first)."""

    def __init__(
        self,
        method: str = "",
        code: int = ErrorCode.INVALID_REQUEST,
        message: str = "",
        data: Any = None,
        *,
        thread_id: str | None = None,
    ) -> None:
        if not message:
            message = f"thread not found: {thread_id or ''}"
        super().__init__(method, code, message, data)
        match = _THREAD_NOT_FOUND.search(message)
        found = match.group(1) if match and match.group(1) else None
        self.thread_id: str | None = thread_id if thread_id is not None else found


def rpc_error(method: str, code: int, message: str, data: Any = None) -> RpcError:
    """The most specific :class:`RpcError` for an error answer to ``method``."""
    if code == ErrorCode.SERVER_OVERLOADED:
        return ServerOverloaded(method, code, message, data)
    if message == "no active turn to steer":
        return NoActiveTurn(method, code, message, data)
    if _TURN_MISMATCH.search(message):
        return TurnMismatch(method, code, message, data)
    if _THREAD_NOT_FOUND.search(message):
        return ThreadNotFound(method, code, message, data)
    return RpcError(method, code, message, data)

"""Test doubles for code that uses codex_client: an in-memory transport and a fake app-server.

The real server will not, when asked, refuse requests as overloaded, send malformed frames,
or drop a connection halfway through a turn; :class:`FakeAppServer` does. It speaks the real
framing (JSON objects without ``"jsonrpc"``, server requests numbered from 0) and implements
just enough of the protocol: ``initialize``, ``thread/start``, ``thread/resume``,
``turn/start`` (an echo turn: ``turn/started``, an agent message streamed as deltas,
``item/completed``, ``turn/completed``; "thread not found" for a thread not in ``loaded``),
``turn/steer``, ``turn/interrupt``, ``thread/unsubscribe``; anything else gets ``{}``.

It serves two ways at once. In memory, through :meth:`FakeAppServer.connect`, a pool's
``transport_factory``: no sockets, no ports, nothing to wait for::

    async with FakeAppServer(listen=False) as server, CodexPool(
        [Endpoint(server.url)], transport_factory=server.connect
    ) as pool:
        ...

and over a real WebSocket on 127.0.0.1 (the default, ``listen=True``; connect to
:attr:`FakeAppServer.url`), for what needs real sockets: HTTP 401 on the upgrade, connections
refused while it is down, TCP connections cut mid-turn (:meth:`FakeAppServer.drop` aborts
both kinds). Run ``python -m codex_client.testing`` to serve it from another process (it
prints its URL).

Knobs (plain attributes, set them before the client acts):

- ``overload[method] = n``: answer the next ``n`` ``method`` requests with -32001
  (``n < 0``: forever);
- ``hold_turns``: a started turn sends one delta, then waits for :meth:`release` (or a drop);
- ``early_events``: send a turn's first notifications *before* the ``turn/start`` answer;
- ``noise``: interleave malformed frames, unknown notifications and stray answers;
- ``stall``: methods never answered (a request the client must time out or fail);
- ``token``: require ``Authorization: Bearer <token>``, else HTTP 401 on the upgrade
  (AuthError from an in-memory connect);
- ``deltas``: how many deltas an echo answer is cut into;
- ``reply``: a function from a turn's prompt to its answer (default ``echo: <prompt>``);
- ``delta_interval``: seconds between two deltas of one answer, so that many concurrent
  turns stream over time as a model would (default 0: back to back);
- ``first_delta_delay``: seconds between a turn's ``item/started`` and its first delta, a
  model's time to first token (default 0);
- ``flood``: extra, pre-encoded deltas sent as fast as possible after the first one (for
  throughput benchmarks; serve it from another process to keep its cost out of the client's).

Everything received is recorded in ``received`` (with the connection's serial number), each
turn's timeline in ``turn_log`` (:class:`TurnLog`), the credentials of each connection in
``upgrade_headers``, and tests wait for things with :meth:`FakeAppServer.wait_for`, never
with sleeps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Protocol

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ._errors import AuthError, ConnectionLost, TransportError
from ._protocol import ErrorCode
from ._transport import Endpoint, Transport

__all__ = ["FakeAppServer", "MemoryTransport", "TurnLog", "memory_transport_pair"]

# -- the in-memory transport --------------------------------------------------------------

_CLOSED: Final = object()


class MemoryTransport:
    """One end of an in-memory frame pipe; make a connected pair with
    :func:`memory_transport_pair`.

    Frames arrive whole and in order. Closing either end closes both: the other end's
    :meth:`recv` and both ends' :meth:`send` then raise ConnectionLost, as when a WebSocket
    drops.
    """

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[str | bytes | object] = asyncio.Queue()
        self._peer: MemoryTransport | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once either end was closed."""
        return self._closed

    async def send(self, frame: str | bytes) -> None:
        """Deliver ``frame`` to the other end; raises ConnectionLost once closed."""
        if self._closed or self._peer is None:
            raise ConnectionLost("in-memory connection closed")
        self._peer._inbox.put_nowait(frame)

    async def recv(self) -> str | bytes:
        """The next frame from the other end; raises ConnectionLost once closed."""
        frame = await self._inbox.get()
        if frame is _CLOSED:
            self._inbox.put_nowait(_CLOSED)  # every later recv fails the same way
            raise ConnectionLost("in-memory connection closed")
        assert isinstance(frame, str | bytes)
        return frame

    async def close(self) -> None:
        """Close both ends; idempotent."""
        self.abort()

    def abort(self) -> None:
        """:meth:`close`, callable outside a coroutine (a crash has no handshake anyway)."""
        for end in (self, self._peer):
            if end is not None and not end._closed:
                end._closed = True
                end._inbox.put_nowait(_CLOSED)


def memory_transport_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected :class:`MemoryTransport` ends: what one sends, the other receives."""
    one, two = MemoryTransport(), MemoryTransport()
    one._peer, two._peer = two, one
    return one, two


# -- the fake app-server ------------------------------------------------------------------

OVERLOADED: Final = {
    "code": int(ErrorCode.SERVER_OVERLOADED),
    "message": "Server overloaded; retry later.",
}
NOISE_FRAMES: Final = [
    "{not json",
    json.dumps({"method": "fake/unknownNotification", "params": {"surprise": [1, 2, 3]}}),
    json.dumps({"id": 987654, "result": {"stray": True}}),
    json.dumps([]),
    json.dumps({"method": "configWarning", "params": {"summary": "x", "details": None}}),
]
_MEMORY_SERVERS = itertools.count(1)


@dataclass
class TurnLog:
    """One turn as the fake served it; times are ``time.monotonic()`` seconds, and
    ``deltas`` counts the answer's deltas sent (``flood`` frames are not counted)."""

    prompt: str
    thread_id: str
    turn_id: str
    started: float
    first_delta: float | None = None
    completed: float | None = None
    deltas: int = 0


class _Peer(Protocol):
    """The server's side of one client connection, whichever way it came."""

    async def send(self, frame: str | bytes) -> None: ...

    async def recv(self) -> str | bytes: ...

    def abort(self) -> None: ...


class _WebSocketPeer:
    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws

    async def send(self, frame: str | bytes) -> None:
        await self._ws.send(frame)

    async def recv(self) -> str | bytes:
        return await self._ws.recv()

    def abort(self) -> None:
        self._ws.transport.abort()  # no close handshake, as a crash would


_GONE = (ConnectionClosed, ConnectionLost)


class FakeAppServer:
    """The fake; ``async with FakeAppServer() as server: ... server.url ...``.

    ``listen=False`` serves in memory only (:meth:`connect`); :attr:`url` is then a name for
    endpoints that no resolver knows.
    """

    def __init__(self, *, token: str | None = None, deltas: int = 3, listen: bool = True) -> None:
        self.token = token
        self.deltas = deltas
        self.listen = listen
        self.overload: dict[str, int] = {}
        self.hold_turns = False
        self.flood = 0
        self.early_events = False
        self.noise = False
        self.stall: set[str] = set()
        self.reply: Callable[[str], str] | None = None
        self.diff: Callable[[str], str | None] | None = None
        """The turn's diff for a prompt (sent as ``turn/diff/updated`` before it completes)."""
        self.delta_interval = 0.0
        self.first_delta_delay = 0.0
        self.turn_log: list[TurnLog] = []
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.upgrade_headers: list[Mapping[str, str]] = []
        self.connections: list[_Peer] = []
        self.active: dict[str, str] = {}  # thread id -> running turn id
        self.loaded: set[str] = set()  # threads started or resumed; clear it to "restart"
        self.client_answers: dict[tuple[int, int], dict[str, Any]] = {}
        self._server: Server | None = None
        self._serving = False
        self._memory_name = f"fake-{next(_MEMORY_SERVERS)}"
        self._changed = asyncio.Condition()
        self._release = asyncio.Event()
        self._interrupts: dict[str, asyncio.Event] = {}
        self._next_request_id: dict[int, int] = {}
        self._serials: dict[_Peer, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>``; in memory only, a ``.invalid`` name for endpoints."""
        if not self.listen:
            return f"ws://{self._memory_name}.invalid"
        return f"ws://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeAppServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Serve: listen on 127.0.0.1 (a fresh port the first time, the same one after a
        close) unless ``listen`` is off, and accept in-memory connections."""
        if self.listen:
            self._server = await serve(
                self._serve_websocket, "127.0.0.1", self.port, process_request=self._check_upgrade
            )
            self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        self._serving = True

    async def close(self) -> None:
        """Stop serving and drop every connection."""
        self._serving = False
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for peer in list(self.connections):
            peer.abort()
        for task in list(self._tasks):
            task.cancel()
        self._release = asyncio.Event()

    async def connect(self, endpoint: Endpoint | None = None) -> Transport:
        """An in-memory connection to this server, for ``CodexPool(transport_factory=...)``.

        Like an upgrade, it checks ``endpoint.auth`` against ``token`` (AuthError if refused)
        and fails with TransportError while the server is closed.
        """
        headers = endpoint.auth.headers() if endpoint is not None else {}
        if not self._serving:
            raise TransportError(f"{self.url} is not serving (connection refused)")
        self.upgrade_headers.append(headers)
        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            raise AuthError(f"{self.url} refused the credentials (HTTP 401)")
        client, server = memory_transport_pair()
        self._spawn(self._serve(server))
        return client

    def release(self) -> None:
        """Let held turns finish."""
        self._release.set()

    async def drop(self) -> None:
        """Cut every open connection at once (no close handshake), as a crash would."""
        for peer in list(self.connections):
            peer.abort()

    def methods(self, connection: int | None = None) -> list[str]:
        """Methods of the requests and notifications received (on one connection, or all)."""
        return [
            m["method"]
            for serial, m in self.received
            if "method" in m and (connection is None or serial == connection)
        ]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every received frame."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def held_turns(self) -> int:
        """How many turns are running now."""
        return len(self.active)

    async def server_request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request to the client on the newest connection and wait for its answer."""
        peer = self.connections[-1]
        serial = self._serials[peer]
        request_id = self._next_request_id[serial]
        self._next_request_id[serial] = request_id + 1
        await self._send(peer, {"id": request_id, "method": method, "params": params})
        await self.wait_for(lambda: (serial, request_id) in self.client_answers)
        return self.client_answers[(serial, request_id)]

    # -- serving ----------------------------------------------------------------------------

    async def _changed_now(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _check_upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        self.upgrade_headers.append(request.headers)
        if "Origin" in request.headers:
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        if self.token is not None and request.headers.get("Authorization") != (
            f"Bearer {self.token}"
        ):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
        return None

    async def _serve_websocket(self, ws: ServerConnection) -> None:
        await self._serve(_WebSocketPeer(ws))

    async def _serve(self, peer: _Peer) -> None:
        serial = len(self._serials)
        self._serials[peer] = serial
        self.connections.append(peer)
        self._next_request_id[serial] = 0
        initialized = False
        try:
            while True:
                message = json.loads(await peer.recv())
                self.received.append((serial, message))
                await self._changed_now()
                if "method" not in message:
                    self.client_answers[(serial, message["id"])] = message
                    await self._changed_now()
                    continue
                if "id" not in message:
                    continue
                if message["method"] == "initialize":
                    initialized = await self._initialize(peer, message, initialized)
                elif not initialized:
                    await self._error(peer, message["id"], "Not initialized")
                else:
                    self._spawn(self._request(peer, message))
        except _GONE:
            pass
        finally:
            self.connections.remove(peer)
            await self._changed_now()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _initialize(self, peer: _Peer, message: dict[str, Any], done: bool) -> bool:
        if done:
            await self._error(peer, message["id"], "Already initialized")
            return True
        await self._send(peer, {"id": message["id"], "result": {"userAgent": "fake/0.169.0"}})
        await self._send(peer, {"method": "remoteControl/status/changed", "params": {}})
        return True

    async def _send(self, peer: _Peer, message: dict[str, Any] | str) -> None:
        with contextlib.suppress(*_GONE):
            await peer.send(message if isinstance(message, str) else json.dumps(message))
            if self.noise and isinstance(message, dict) and "method" in message:
                for frame in NOISE_FRAMES:
                    await peer.send(frame)
                await peer.send(b"\x00binary frame")

    async def _error(self, peer: _Peer, request_id: Any, text: str) -> None:
        error = {"code": int(ErrorCode.INVALID_REQUEST), "message": text}
        await self._send(peer, {"id": request_id, "error": error})

    async def _request(self, peer: _Peer, message: dict[str, Any]) -> None:
        method, request_id = message["method"], message["id"]
        params = message.get("params") or {}
        remaining = self.overload.get(method, 0)
        if remaining != 0:
            self.overload[method] = remaining - 1 if remaining > 0 else remaining
            await self._send(peer, {"id": request_id, "error": OVERLOADED})
            return
        if method in self.stall:
            return
        if method == "thread/start":
            thread = _thread(str(uuid.uuid4()))
            self.loaded.add(thread["id"])
            await self._send(peer, {"id": request_id, "result": {"thread": thread}})
            await self._send(peer, {"method": "thread/started", "params": {"thread": thread}})
        elif method == "thread/resume":
            self.loaded.add(params["threadId"])
            await self._send(
                peer, {"id": request_id, "result": {"thread": _thread(params["threadId"])}}
            )
        elif method == "turn/start" and params["threadId"] not in self.loaded:
            await self._error(peer, request_id, f"thread not found: {params['threadId']}")
        elif method == "turn/start":
            await self._turn(peer, request_id, params)
        elif method == "thread/unsubscribe":
            await self._send(peer, {"id": request_id, "result": {"status": "unsubscribed"}})
        elif method == "turn/steer":
            active = self.active.get(params["threadId"])
            if active is None:
                await self._error(peer, request_id, "no active turn to steer")
            elif active != params["expectedTurnId"]:
                expected = params["expectedTurnId"]
                await self._error(
                    peer, request_id, f"expected active turn id `{expected}` but found `{active}`"
                )
            else:
                await self._send(peer, {"id": request_id, "result": {"turnId": active}})
        elif method == "turn/interrupt":
            await self._send(peer, {"id": request_id, "result": {}})
            self._interrupts.setdefault(params["turnId"], asyncio.Event()).set()
        else:
            await self._send(peer, {"id": request_id, "result": {}})

    async def _turn(self, peer: _Peer, request_id: Any, params: dict[str, Any]) -> None:
        thread_id = params["threadId"]
        turn_id = str(uuid.uuid4())
        text = "".join(i.get("text", "") for i in params["input"] if i.get("type") == "text")
        item_id = f"msg_{turn_id[:8]}"
        log = TurnLog(text, thread_id, turn_id, time.monotonic())
        self.turn_log.append(log)
        started = {
            "method": "turn/started",
            "params": {"threadId": thread_id, "turn": _turn(turn_id)},
        }
        answer = {"id": request_id, "result": {"turn": _turn(turn_id)}}
        first = [started, _item("item/started", thread_id, turn_id, item_id, "")]
        for message in (*first, answer) if self.early_events else (answer, *first):
            await self._send(peer, message)
        self.active[thread_id] = turn_id
        reply = self.reply(text) if self.reply is not None else f"echo: {text}"
        size = max(1, -(-len(reply) // self.deltas))
        pieces = [reply[i : i + size] for i in range(0, len(reply), size)]
        status = "completed"
        for index, piece in enumerate(pieces):
            # Pacing a model's output (time to first token, then between tokens), not a wait.
            pause = self.delta_interval if index else self.first_delta_delay
            if pause > 0:
                await asyncio.sleep(pause)
            delta = {"threadId": thread_id, "turnId": turn_id, "itemId": item_id, "delta": piece}
            await self._send(peer, {"method": "item/agentMessage/delta", "params": delta})
            log.deltas += 1
            if log.first_delta is None:
                log.first_delta = time.monotonic()
            if index == 0 and self.flood:
                delta["delta"] = "lorem ipsum dolor "
                frame = json.dumps({"method": "item/agentMessage/delta", "params": delta})
                with contextlib.suppress(*_GONE):
                    for _ in range(self.flood):
                        await peer.send(frame)
            if index == 0 and self.hold_turns:
                interrupted = self._interrupts.setdefault(turn_id, asyncio.Event())
                await self._changed_now()
                await _first(self._release.wait(), interrupted.wait())
                if interrupted.is_set():
                    status = "interrupted"
                    break
        self.active.pop(thread_id, None)
        diff = self.diff(text) if self.diff is not None else None
        if diff is not None:
            params = {"threadId": thread_id, "turnId": turn_id, "diff": diff}
            await self._send(peer, {"method": "turn/diff/updated", "params": params})
        items = []
        if status == "completed":
            await self._send(peer, _item("item/completed", thread_id, turn_id, item_id, reply))
            items = [{"type": "agentMessage", "id": item_id, "text": reply, "phase": None}]
        finished = {**_turn(turn_id), "status": status, "items": items}
        await self._send(
            peer, {"method": "turn/completed", "params": {"threadId": thread_id, "turn": finished}}
        )
        log.completed = time.monotonic()


async def _first(*aws: Awaitable[Any]) -> None:
    tasks = {asyncio.ensure_future(a) for a in aws}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _thread(thread_id: str) -> dict[str, Any]:
    return {"id": thread_id, "preview": "", "status": {"type": "idle"}, "turns": []}


def _turn(turn_id: str) -> dict[str, Any]:
    return {"id": turn_id, "items": [], "itemsView": "notLoaded", "status": "inProgress"}


def _item(method: str, thread_id: str, turn_id: str, item_id: str, text: str) -> dict[str, Any]:
    item = {"type": "agentMessage", "id": item_id, "text": text, "phase": None}
    return {"method": method, "params": {"threadId": thread_id, "turnId": turn_id, "item": item}}


async def _main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake app-server until killed.")
    parser.add_argument("--deltas", type=int, default=3)
    parser.add_argument("--flood", type=int, default=0)
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args()
    async with FakeAppServer(deltas=args.deltas) as server:
        server.flood = args.flood
        server.hold_turns = args.hold
        print(server.url, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(_main())

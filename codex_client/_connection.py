"""One initialized connection to one app-server.

A :class:`Connection` owns a transport, a :class:`~codex_client._protocol.ProtocolCore` and
exactly one reader task. The reader never blocks on anyone: answers wake the future of
their request, notifications go through the :class:`~codex_client._routing.Router` into
per-turn queues, and each server request is answered from a task of its own (the approval
handler may wait minutes for a human).

When the transport drops, every pending request fails with :class:`ConnectionLost`, every
open turn stream ends with it, running handler tasks are cancelled (their answers could not
be delivered), and the ``on_lost`` callback tells the owner (the pool), which reconnects.
A connection is never reused after that; the pool opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._errors import (
    ConnectionLost,
    ProtocolError,
    RequestTimeout,
    TransportError,
    rpc_error,
)
from ._protocol import (
    ErrorCode,
    ErrorResponse,
    Event,
    Malformed,
    Notification,
    ProtocolCore,
    RequestId,
    Response,
    ServerRequest,
)
from ._requests import ApprovalHandler, ApprovalRequest
from ._retry import Backoff, retry_overloaded
from ._routing import Router, TurnStream
from ._transport import Endpoint, Transport, TransportFactory, open_transport

logger = logging.getLogger("codex_client.connection")


@dataclass(frozen=True)
class ClientInfo:
    """How the client introduces itself in ``initialize`` (``name`` must be a valid HTTP
    header value: the server puts it in its User-Agent)."""

    name: str = "codex-slack"
    version: str = "0.1.0"
    title: str | None = None


@dataclass(frozen=True)
class Settings:
    """The knobs a connection needs, shared by every connection of a pool."""

    client: ClientInfo = ClientInfo()
    request_timeout: float = 60.0
    open_timeout: float = 10.0
    overload_retries: int = 6
    backoff: Backoff = field(default_factory=Backoff)
    approval_handler: ApprovalHandler | None = None
    transport_factory: TransportFactory | None = None
    """Opens transports instead of :func:`open_transport` (tests' in-memory doubles)."""


LostCallback = Callable[["Connection", ConnectionLost, set[str]], None]


class Connection:
    """A live, initialized connection; build it with :meth:`open`."""

    def __init__(
        self,
        endpoint: Endpoint,
        transport: Transport,
        settings: Settings,
        on_lost: LostCallback | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.router = Router()
        self.initialize_result: dict[str, Any] = {}
        self.subscribed: set[str] = set()
        """Threads this connection started or resumed, so receives the events of."""
        self._transport = transport
        self._settings = settings
        self._on_lost = on_lost
        self._core = ProtocolCore()
        self._futures: dict[RequestId, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._reader = asyncio.create_task(self._read_loop(), name=f"codex-reader {endpoint.key}")

    @classmethod
    async def open(
        cls, endpoint: Endpoint, settings: Settings, on_lost: LostCallback | None = None
    ) -> Connection:
        """Connect, send ``initialize`` and ``initialized``; raises AuthError, TransportError…"""
        if settings.transport_factory is not None:
            transport = await settings.transport_factory(endpoint)
        else:
            transport = await open_transport(endpoint, open_timeout=settings.open_timeout)
        conn = cls(endpoint, transport, settings, on_lost)
        try:
            client = settings.client
            conn.initialize_result = await conn.request(
                "initialize",
                {
                    "clientInfo": {
                        "name": client.name,
                        "title": client.title,
                        "version": client.version,
                    },
                    "capabilities": {"experimentalApi": True},
                },
                timeout=settings.open_timeout,
            )
            await conn.notify("initialized")
        except BaseException:
            await conn.close()
            raise
        return conn

    @property
    def closed(self) -> bool:
        """True once the connection was lost or closed."""
        return self._closed

    @property
    def load(self) -> int:
        """Open turn streams plus requests in flight."""
        return self.router.open_streams + len(self._futures)

    async def request(
        self, method: str, params: dict[str, Any] | None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request and return its result, retrying while the server is overloaded.

        Raises RpcError (or a subclass), RequestTimeout, or ConnectionLost.
        """
        return await retry_overloaded(
            lambda: self._request_once(method, params, timeout),
            retries=self._settings.overload_retries,
            backoff=self._settings.backoff,
            what=method,
        )

    async def _request_once(
        self, method: str, params: dict[str, Any] | None, timeout: float | None
    ) -> dict[str, Any]:
        if self._closed:
            raise ConnectionLost(f"connection to {self.endpoint.key} is closed")
        timeout = self._settings.request_timeout if timeout is None else timeout
        try:
            request_id, frame = self._core.build_request(method, params)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"cannot send {method}: its params are not JSON: {exc}") from exc
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._futures[request_id] = future
        try:
            await self._transport.send(frame)
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as exc:
            raise RequestTimeout(method, timeout) from exc
        finally:
            del self._futures[request_id]
            self._core.forget(request_id)
            if future.done() and not future.cancelled():
                future.exception()  # mark retrieved: the send itself may have failed first

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification."""
        if self._closed:
            raise ConnectionLost(f"connection to {self.endpoint.key} is closed")
        try:
            frame = self._core.build_notification(method, params)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"cannot send {method}: its params are not JSON: {exc}") from exc
        await self._transport.send(frame)

    async def start_turn(
        self, thread_id: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any], TurnStream]:
        """``turn/start``; returns the turn and its stream, holding early events for it."""
        self.router.begin_start(thread_id)
        try:
            result = await self.request("turn/start", params)
            turn = result.get("turn")
            if not isinstance(turn, dict) or not isinstance(turn.get("id"), str):
                raise ProtocolError("turn/start answered without a turn id")
            return turn, self.router.open(thread_id, turn["id"])
        finally:
            self.router.end_start(thread_id)

    async def close(self) -> None:
        """Close on purpose: pending work fails with ConnectionLost, ``on_lost`` is not called."""
        self._on_lost = None
        if not self._closed:
            self._fail_everything(ConnectionLost(f"connection to {self.endpoint.key} closed"))
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        with contextlib.suppress(TransportError, OSError):
            await self._transport.close()

    async def _read_loop(self) -> None:
        try:
            while True:
                frame = await self._transport.recv()
                for event in self._core.receive(frame):
                    self._handle(event)
        except ConnectionLost as exc:
            self._lost(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A bug here must not leave callers waiting forever: treat it as a lost link.
            logger.exception("reader of %s failed", self.endpoint.key)
            self._lost(ConnectionLost(f"reader of {self.endpoint.key} failed: {exc!r}"))

    def _handle(self, event: Event) -> None:
        if isinstance(event, Notification):
            self.router.dispatch(event.method, event.params)
            if event.method == "thread/closed":
                # The server unloaded the thread; the next turn must resume it first.
                self.subscribed.discard(event.params.get("threadId", ""))
        elif isinstance(event, Response):
            future = self._futures.get(event.id)
            if future is not None and not future.done():
                future.set_result(event.result)
        elif isinstance(event, ErrorResponse):
            future = self._futures.get(event.id)
            if future is not None and not future.done():
                future.set_exception(rpc_error(event.method, event.code, event.message, event.data))
        elif isinstance(event, ServerRequest):
            task = asyncio.create_task(self._answer(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(event, Malformed):
            logger.warning("dropped a frame from %s: %s", self.endpoint.key, event.reason)
            logger.debug("dropped frame: %s", event.frame)

    async def _answer(self, request: ServerRequest) -> None:
        handler = self._settings.approval_handler
        if handler is None:
            frame = self._core.build_error(
                request.id,
                ErrorCode.METHOD_NOT_FOUND,
                f"{request.method} is not handled by this client",
            )
        else:
            params = request.params
            thread_id = params.get("threadId")
            turn_id = params.get("turnId")
            approval = ApprovalRequest(
                method=request.method,
                request_id=request.id,
                thread_id=thread_id if isinstance(thread_id, str) else None,
                turn_id=turn_id if isinstance(turn_id, str) else None,
                params=params,
                endpoint_key=self.endpoint.key,
            )
            try:
                result = await handler(approval)
                if not isinstance(result, dict):
                    raise TypeError(f"the handler returned {type(result).__name__}, not a dict")
                frame = self._core.build_result(request.id, result)
            except Exception:
                # A refusal, so the turn goes on: an unanswered request would stall it.
                logger.exception("approval handler failed on %s", request.method)
                frame = self._core.build_error(
                    request.id, ErrorCode.INTERNAL_ERROR, "the client failed to decide"
                )
        with contextlib.suppress(ConnectionLost):
            await self._transport.send(frame)

    def _lost(self, exc: ConnectionLost) -> None:
        live = self.router.threads_with_open_streams()
        self._fail_everything(exc)
        callback, self._on_lost = self._on_lost, None
        if callback is not None:
            callback(self, exc, live)

    def _fail_everything(self, exc: ConnectionLost) -> None:
        self._closed = True
        message = str(exc)
        self._core.fail_all()
        for future in self._futures.values():
            if not future.done():
                future.set_exception(ConnectionLost(message))
        self.router.fail_all(ConnectionLost(message))
        for task in list(self._tasks):
            task.cancel()

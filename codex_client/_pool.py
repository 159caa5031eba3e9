"""A pool of app-server connections with thread affinity and automatic reconnects.

The pool holds ``connections_per_endpoint`` connection *slots* per endpoint. A thread is
pinned to the slot that started or resumed it, because a connection only receives the
events of threads it is subscribed to, and a thread must be written by one app-server only.

When a slot's connection drops, the pool (in a background task, with :class:`Backoff`
delays) opens a new one, initializes it, and sends ``thread/resume`` for every pinned
thread that still has a subscriber: a turn that was running at the drop, or a thread marked
with :meth:`ThreadHandle.set_subscribed`. Other pinned threads are resumed lazily, on their
next turn. Requests made while a slot reconnects wait for it (up to the request timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ._connection import ClientInfo, Connection, Settings
from ._errors import (
    AuthError,
    ConnectionLost,
    ProtocolError,
    RpcError,
    ThreadNotFound,
    TurnLost,
)
from ._protocol import ErrorCode
from ._requests import ApprovalHandler
from ._retry import Backoff, retry_forever
from ._routing import TurnStream
from ._threads import ThreadHandle
from ._transport import Endpoint, TransportFactory

logger = logging.getLogger("codex_client.pool")

# Resuming only to (re)subscribe: the thread's history is not wanted, and can be large.
_RESUBSCRIBE: dict[str, Any] = {"excludeTurns": True}


@dataclass(eq=False)
class _Slot:
    endpoint: Endpoint
    index: int
    conn: Connection | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reconnecting: asyncio.Task[None] | None = None
    last_error: str | None = None
    threads: set[str] = field(default_factory=set)

    @property
    def live(self) -> Connection | None:
        conn = self.conn
        return conn if conn is not None and not conn.closed else None


class CodexPool:
    """Connections to one or more app-servers; use as ``async with CodexPool([...]) as pool``.

    ``transport_factory`` replaces how connections are opened (WebSocket or stdio, from the
    endpoint) with a function of the endpoint: tests pass an in-memory server's, see
    :mod:`codex_client.testing`.
    """

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        connections_per_endpoint: int = 1,
        client_name: str = "codex-slack",
        client_version: str = "0.1.0",
        request_timeout: float = 60.0,
        overload_retries: int = 6,
        backoff: Backoff | None = None,
        approval_handler: ApprovalHandler | None = None,
        open_timeout: float = 10.0,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("a pool needs at least one endpoint")
        keys = [e.key for e in endpoints]
        if len(set(keys)) != len(keys):
            raise ValueError(f"endpoint keys must be unique: {keys}")
        self._settings = Settings(
            client=ClientInfo(name=client_name, version=client_version),
            request_timeout=request_timeout,
            open_timeout=open_timeout,
            overload_retries=overload_retries,
            backoff=backoff or Backoff(),
            approval_handler=approval_handler,
            transport_factory=transport_factory,
        )
        self._endpoints = list(endpoints)
        self._slots = [
            _Slot(endpoint, index)
            for endpoint in endpoints
            for index in range(max(1, connections_per_endpoint))
        ]
        self._pins: dict[str, _Slot] = {}
        self._keep: set[str] = set()
        self._listeners: list[Callable[[str], None]] = []
        self._started = False
        self._closed = False
        self.reconnects = 0
        """Successful reconnects since start, over all slots (a metric)."""

    @property
    def endpoint_keys(self) -> list[str]:
        """The keys of the endpoints, in the order given."""
        return [e.key for e in self._endpoints]

    def add_reconnect_listener(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(endpoint_key)`` after each successful reconnect (and re-resume)."""
        self._listeners.append(callback)

    async def __aenter__(self) -> CodexPool:
        try:
            await self.start()
        except BaseException:
            await self.close()  # no __aexit__ follows a failed __aenter__: stop the retries
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Open and initialize every connection, all at once (one attempt each).

        Raises AuthError if any endpoint refused the credentials (HTTP 401), else the first
        error if no connection at all could be made; a partial failure raises nothing. In
        every case the slots that failed keep trying in the background (with backoff,
        re-reading credential files), so a caller that keeps the pool gets it back when the
        server does; one that gives up (a ``doctor`` check) should :meth:`close` it.
        """
        if self._started:
            return
        self._started = True
        outcomes = await asyncio.gather(
            *(self._open(slot) for slot in self._slots), return_exceptions=True
        )
        errors: list[BaseException] = []
        for slot, outcome in zip(self._slots, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # cancellation and the like are not connection failures
                errors.append(outcome)
                slot.last_error = f"{type(outcome).__name__}: {outcome}"
                logger.warning("%s unavailable at start: %s", slot.endpoint.key, outcome)
                self._schedule_reconnect(slot, set())
        auth = next((e for e in errors if isinstance(e, AuthError)), None)
        if auth is not None:
            raise auth
        if errors and len(errors) == len(self._slots):
            raise errors[0]

    async def close(self) -> None:
        """Stop reconnecting and close every connection; idempotent."""
        self._closed = True
        tasks = [s.reconnecting for s in self._slots if s.reconnecting is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for slot in self._slots:
            conn, slot.conn = slot.conn, None
            slot.ready.clear()
            if conn is not None:
                await conn.close()

    async def _open(self, slot: _Slot) -> None:
        conn = await Connection.open(slot.endpoint, self._settings, self._on_lost_for(slot))
        slot.conn = conn
        slot.last_error = None
        slot.ready.set()

    def _on_lost_for(self, slot: _Slot) -> Callable[[Connection, ConnectionLost, set[str]], None]:
        def on_lost(conn: Connection, exc: ConnectionLost, live: set[str]) -> None:
            if self._closed or slot.conn is not conn:
                return
            logger.warning("lost %s: %s", slot.endpoint.key, exc)
            slot.ready.clear()
            slot.last_error = str(exc)
            resume = (live | (slot.threads & self._keep)) & slot.threads
            self._schedule_reconnect(slot, resume)

        return on_lost

    def _schedule_reconnect(self, slot: _Slot, resume: set[str]) -> None:
        if self._closed or slot.reconnecting is not None:
            return
        slot.reconnecting = asyncio.create_task(
            self._reconnect(slot, resume), name=f"codex-reconnect {slot.endpoint.key}"
        )

    async def _reconnect(self, slot: _Slot, resume: set[str]) -> None:
        old, slot.conn = slot.conn, None
        if old is not None:
            await old.close()

        async def attempt() -> Connection:
            conn = await Connection.open(slot.endpoint, self._settings, self._on_lost_for(slot))
            try:
                for thread_id in sorted(resume):
                    await self._resubscribe(conn, thread_id)
            except BaseException:
                await conn.close()
                raise
            return conn

        def report(exc: BaseException, attempt_number: int) -> None:
            slot.last_error = str(exc)
            level = logging.ERROR if isinstance(exc, AuthError) else logging.WARNING
            logger.log(
                level, "reconnect %d to %s failed: %s", attempt_number, slot.endpoint.key, exc
            )

        try:
            conn = await retry_forever(attempt, backoff=self._settings.backoff, on_failure=report)
        finally:
            slot.reconnecting = None
        slot.conn = conn
        slot.last_error = None
        slot.ready.set()
        self.reconnects += 1
        logger.info("reconnected to %s; resumed %d thread(s)", slot.endpoint.key, len(resume))
        for callback in list(self._listeners):
            try:
                callback(slot.endpoint.key)
            except Exception:
                logger.exception("reconnect listener failed")

    async def _resume_on(
        self, conn: Connection, thread_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """``thread/resume`` on ``conn``, which then receives the thread's events."""
        result = await conn.request("thread/resume", {**params, "threadId": thread_id})
        conn.subscribed.add(thread_id)
        return result

    async def _resubscribe(self, conn: Connection, thread_id: str) -> None:
        """Resume after a reconnect; a thread the server refuses is logged and skipped, so
        one bad thread does not keep the whole slot down."""
        try:
            await self._resume_on(conn, thread_id, _RESUBSCRIBE)
        except RpcError as exc:
            if exc.code == ErrorCode.SERVER_OVERLOADED:
                raise
            logger.warning("could not resume %s on %s: %s", thread_id, conn.endpoint.key, exc)

    # -- slot selection ---------------------------------------------------------------

    def _slots_of(self, endpoint_key: str) -> list[_Slot]:
        slots = [s for s in self._slots if s.endpoint.key == endpoint_key]
        if not slots:
            raise ValueError(f"unknown endpoint {endpoint_key!r}; known: {self.endpoint_keys}")
        return slots

    @staticmethod
    def _slot_order(slot: _Slot) -> tuple[int, int, int]:
        conn = slot.live
        return (0 if conn else 1, conn.load if conn else 0, len(slot.threads))

    def _pick(self, endpoint_key: str | None) -> _Slot:
        """The least-loaded slot, of the given endpoint or of all."""
        if endpoint_key is not None:
            return min(self._slots_of(endpoint_key), key=self._slot_order)
        loads: dict[str, tuple[int, int, int]] = {}
        for endpoint in self._endpoints:
            slots = self._slots_of(endpoint.key)
            live = [s.live for s in slots if s.live is not None]
            loads[endpoint.key] = (
                0 if live else 1,
                sum(c.load for c in live),
                sum(len(s.threads) for s in slots),
            )
        best = min(self._endpoints, key=lambda e: loads[e.key])
        return min(self._slots_of(best.key), key=self._slot_order)

    def _slot_for_thread(self, thread_id: str, endpoint_key: str | None) -> _Slot:
        """The slot a thread is pinned to, pinning it now if need be."""
        if endpoint_key is not None and endpoint_key not in self.endpoint_keys:
            # A key stored before the deployment's endpoints changed: don't fail the thread.
            logger.warning(
                "unknown endpoint %r for thread %s; using the default", endpoint_key, thread_id
            )
            endpoint_key = None
        slot = self._pins.get(thread_id)
        if slot is not None and (endpoint_key is None or slot.endpoint.key == endpoint_key):
            return slot
        slot = self._pick(endpoint_key or self._endpoints[0].key)
        self._pin(thread_id, slot)
        return slot

    def _pin(self, thread_id: str, slot: _Slot) -> None:
        previous = self._pins.get(thread_id)
        if previous is not None:
            previous.threads.discard(thread_id)
        self._pins[thread_id] = slot
        slot.threads.add(thread_id)

    async def _connection(self, slot: _Slot) -> Connection:
        """The slot's live connection, waiting (up to the request timeout) for a reconnect."""
        if not self._started or self._closed:
            raise ConnectionLost("the pool is not running (call start())")
        conn = slot.live
        if conn is not None:
            return conn
        try:
            async with asyncio.timeout(self._settings.request_timeout):
                while (conn := slot.live) is None:
                    await slot.ready.wait()
                    if slot.live is None:
                        slot.ready.clear()
        except TimeoutError as exc:
            raise ConnectionLost(
                f"{slot.endpoint.key} is unreachable: {slot.last_error or 'reconnecting'}"
            ) from exc
        return conn

    # -- public operations ------------------------------------------------------------

    async def start_thread(
        self,
        *,
        model: str | None = None,
        cwd: str | None = None,
        approval_policy: str | None = None,
        sandbox: str | None = None,
        endpoint_key: str | None = None,
        **extra: Any,
    ) -> ThreadHandle:
        """``thread/start`` on the least-loaded endpoint (or ``endpoint_key``), pinned there.

        ``extra`` keys are sent as given (camelCase, e.g. ``developerInstructions``).
        """
        params = dict(extra)
        for key, value in (
            ("model", model),
            ("cwd", cwd),
            ("approvalPolicy", approval_policy),
            ("sandbox", sandbox),
        ):
            if value is not None:
                params[key] = value
        slot = self._pick(endpoint_key)
        conn = await self._connection(slot)
        result = await conn.request("thread/start", params)
        thread = result.get("thread")
        if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
            raise ProtocolError("thread/start answered without a thread id")
        thread_id: str = thread["id"]
        conn.subscribed.add(thread_id)
        self._pin(thread_id, slot)
        return ThreadHandle(self, thread_id, slot.endpoint.key, result)

    async def resume_thread(
        self, thread_id: str, *, endpoint_key: str | None = None, **overrides: Any
    ) -> ThreadHandle:
        """``thread/resume`` on the endpoint that owns the thread: ``endpoint_key`` (from the
        caller's store), else the one it is pinned to, else the first; ``overrides`` are
        sent as given."""
        slot = self._slot_for_thread(thread_id, endpoint_key)
        conn = await self._connection(slot)
        result = await self._resume_on(conn, thread_id, overrides)
        return ThreadHandle(self, thread_id, slot.endpoint.key, result)

    def thread(self, thread_id: str, *, endpoint_key: str | None = None) -> ThreadHandle:
        """A handle without a resume (enough for listing turns and reading); a turn started
        on it resumes the thread first."""
        slot = self._slot_for_thread(thread_id, endpoint_key)
        return ThreadHandle(self, thread_id, slot.endpoint.key)

    async def request(
        self, method: str, params: dict[str, Any], *, endpoint_key: str | None = None
    ) -> dict[str, Any]:
        """Any request, raw. Routed like the thread's requests when ``params`` names a
        pinned ``threadId``, else to ``endpoint_key``, else to the least-loaded endpoint."""
        thread_id = params.get("threadId")
        if isinstance(thread_id, str) and (thread_id in self._pins or endpoint_key):
            slot = self._slot_for_thread(thread_id, endpoint_key)
        else:
            slot = self._pick(endpoint_key)
        conn = await self._connection(slot)
        return await conn.request(method, params)

    async def check(self) -> dict[str, Any]:
        """Health of every endpoint: ``{endpoint_key: {"ok": bool, ...}}``.

        Each entry has ``initialize`` (the server's initialize result) when a connection is
        up, and ``error`` when one failed. A running pool reports its connections as they
        are, without any I/O (cheap enough for every ``/readyz``); a pool not started (or
        closed) probes each endpoint with a one-off connection, for a ``doctor`` command.
        """
        report: dict[str, Any] = {}
        for endpoint in self._endpoints:
            if self._started and not self._closed:
                slots = self._slots_of(endpoint.key)
                live = [s.live for s in slots if s.live is not None]
                entry: dict[str, Any] = {
                    "ok": bool(live),
                    "connected": len(live),
                    "connections": len(slots),
                    "threads": sum(len(s.threads) for s in slots),
                }
                if live:
                    entry["initialize"] = live[0].initialize_result
                errors = [s.last_error for s in slots if s.last_error]
                if errors:
                    entry["error"] = errors[0]
            else:
                entry = await self._probe(endpoint)
            report[endpoint.key] = entry
        return report

    async def _probe(self, endpoint: Endpoint) -> dict[str, Any]:
        try:
            conn = await Connection.open(endpoint, self._settings)
        except Exception as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        await conn.close()
        return {"ok": True, "initialize": conn.initialize_result}

    # -- ThreadBackend ----------------------------------------------------------------

    def _handle_slot(self, thread_id: str, endpoint_key: str) -> _Slot:
        # The current pin wins over the key a handle was made with: a later resume_thread
        # may have moved the thread, and old handles must follow it, not pull it back.
        return self._pins.get(thread_id) or self._slot_for_thread(thread_id, endpoint_key)

    async def _thread_request(
        self, thread_id: str, endpoint_key: str, method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        conn = await self._connection(self._handle_slot(thread_id, endpoint_key))
        return await conn.request(method, params)

    async def _unsubscribe(self, thread_id: str, endpoint_key: str) -> str:
        slot = self._handle_slot(thread_id, endpoint_key)
        self._keep.discard(thread_id)
        conn = await self._connection(slot)
        result = await conn.request("thread/unsubscribe", {"threadId": thread_id})
        conn.subscribed.discard(thread_id)
        status = result.get("status")
        return status if isinstance(status, str) else ""

    def forget_thread(self, thread_id: str) -> None:
        """Drop the pool's memory of a thread (its pin and subscription mark)."""
        slot = self._pins.pop(thread_id, None)
        if slot is not None:
            slot.threads.discard(thread_id)
        self._keep.discard(thread_id)

    async def _open_turn(
        self, thread_id: str, endpoint_key: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any], TurnStream]:
        conn = await self._connection(self._handle_slot(thread_id, endpoint_key))
        if thread_id not in conn.subscribed:
            # A fresh connection gets no events for a thread until it resumes it.
            await self._resume_on(conn, thread_id, _RESUBSCRIBE)
        try:
            return await conn.start_turn(thread_id, params)
        except ThreadNotFound:
            # Unloaded behind our back (server restart): resume, then try once more.
            await self._resume_on(conn, thread_id, _RESUBSCRIBE)
            return await conn.start_turn(thread_id, params)

    async def _attach_turn(
        self, thread_id: str, endpoint_key: str, turn_id: str
    ) -> tuple[dict[str, Any], TurnStream]:
        conn = await self._connection(self._handle_slot(thread_id, endpoint_key))
        # The stream is open before the resume, so no event of the turn sent after the
        # resume subscribed this connection can slip past it.
        stream = conn.router.open(thread_id, turn_id)
        try:
            resumed = await self._resume_on(conn, thread_id, _RESUBSCRIBE)
            turn = await _find_turn(conn, thread_id, turn_id)
        except BaseException as exc:
            conn.router.close(stream, exc)
            raise
        if turn is None:
            lost = TurnLost(thread_id, turn_id, "the server has no such turn")
            conn.router.close(stream, lost)
            raise lost
        if _died_with_server(turn):
            lost = TurnLost(thread_id, turn_id, "the server stopped while it ran")
            conn.router.close(stream, lost)
            raise lost
        if turn.get("status") != "inProgress":
            if not stream.closed:
                conn.router.complete(stream, turn)
            return turn, stream
        if not stream.closed and not _thread_running(resumed):
            # Listed as in progress, but the thread has nothing running: the server restarted
            # mid-turn and only the start of the turn survived in its history.
            lost = TurnLost(thread_id, turn_id, "the server stopped while it ran")
            conn.router.close(stream, lost)
            raise lost
        return turn, stream

    def _set_subscribed(self, thread_id: str, subscribed: bool) -> None:
        if subscribed:
            self._keep.add(thread_id)
        else:
            self._keep.discard(thread_id)

    def _is_subscribed(self, thread_id: str) -> bool:
        return thread_id in self._keep


_FIND_TURN_PAGES = 5
"""How many pages of 10 turns a re-attach searches for its turn (it is nearly always the
newest: a bot re-attaches to the turn it was running)."""


async def _find_turn(conn: Connection, thread_id: str, turn_id: str) -> dict[str, Any] | None:
    """The turn ``turn_id`` of a thread (summary view: its final answer), or None."""
    cursor: str | None = None
    for _ in range(_FIND_TURN_PAGES):
        params: dict[str, Any] = {"threadId": thread_id, "limit": 10, "sortDirection": "desc"}
        if cursor is not None:
            params["cursor"] = cursor
        page = await conn.request("thread/turns/list", params)
        data = page.get("data")
        for turn in data if isinstance(data, list) else []:
            if isinstance(turn, dict) and turn.get("id") == turn_id:
                return turn
        next_cursor = page.get("nextCursor")
        if not isinstance(next_cursor, str):
            return None
        cursor = next_cursor
    return None


def _died_with_server(turn: dict[str, Any]) -> bool:
    """A turn the server recorded as interrupted without an end: 0.169.0 marks a turn so when
    it restarts after dying mid-turn (an interrupt asked for by a client has ``completedAt``)."""
    return turn.get("status") == "interrupted" and turn.get("completedAt") is None


def _thread_running(resumed: dict[str, Any]) -> bool:
    """Whether a ``thread/resume`` result shows a turn running (status ``active``)."""
    thread = resumed.get("thread")
    status = thread.get("status") if isinstance(thread, dict) else None
    return isinstance(status, dict) and status.get("type") == "active"

"""Routing notifications of one connection into per-turn streams.

The connection's reader task calls :meth:`Router.dispatch` for every notification; it must
never block, so each turn gets its own unbounded queue (:class:`TurnStream`) and a slow
consumer of one turn never stalls another, nor the reader.

Turn-scoped notifications carry ``threadId`` and ``turnId`` (``turn/started`` and
``turn/completed`` carry ``threadId`` and ``turn.id``). The server may send a turn's first
notifications *before* its answer to ``turn/start``, when the client does not know the turn
id yet. So while a ``turn/start`` is in flight on a thread (:meth:`Router.begin_start`),
notifications for that thread that match no open stream are held back, and
:meth:`Router.open` replays the ones for the new turn into its stream. Thread-scoped
notifications (``threadId`` but no turn id, such as ``thread/status/changed``) go to the
thread's newest open stream, or are held back the same way.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from ._models import AgentMessageItem, TurnError, TurnResult, parse_item, parse_turn

Raw = tuple[str, dict[str, Any]]


class TurnStream:
    """The queue of raw notifications for one turn, and what the turn's end needs.

    The producer (:meth:`push`, :meth:`fail`) never waits. Completed agent messages are
    recorded as they arrive, so :meth:`result` works whether or not anyone reads the queue.
    """

    __slots__ = (
        "_done",
        "_ended",
        "_failure",
        "_messages",
        "_queue",
        "_turn",
        "_waiter",
        "thread_id",
        "turn_id",
    )

    def __init__(self, thread_id: str, turn_id: str) -> None:
        self.thread_id = thread_id
        self.turn_id = turn_id
        self._queue: deque[Raw] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self._turn: dict[str, Any] | None = None
        self._messages: dict[str, dict[str, Any]] = {}
        self._done = False
        self._ended = asyncio.Event()

    @property
    def closed(self) -> bool:
        """True once the turn completed or the stream failed: nothing more will be queued."""
        return self._done

    def push(self, method: str, params: dict[str, Any]) -> None:
        """Queue a notification; ``turn/completed`` closes the stream."""
        if self._done:
            return
        if method == "item/agentMessage/delta":
            pass  # the common case: skip the checks below
        elif method == "item/completed":
            item = params.get("item")
            if isinstance(item, dict) and item.get("type") == "agentMessage":
                self._messages[str(item.get("id", len(self._messages)))] = item
        elif method == "turn/completed":
            turn = params.get("turn")
            self._turn = turn if isinstance(turn, dict) else {"id": self.turn_id}
            self._done = True
            self._ended.set()
        self._queue.append((method, params))
        self._wake()

    def pop_ready(self) -> Raw | None:
        """The next queued notification without waiting, or None if none is queued."""
        return self._queue.popleft() if self._queue else None

    def fail(self, exc: BaseException) -> None:
        """End the stream with ``exc``, raised to the reader after the queued events."""
        if self._done:
            return
        self._failure = exc
        self._done = True
        self._ended.set()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Raw | None:
        """The next notification; None after ``turn/completed``; raises the failure, if any."""
        while not self._queue:
            if self._done:
                if self._failure is not None:
                    raise self._failure
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    async def result(self) -> TurnResult:
        """Wait for the turn's end and summarise it; raises the failure, if any."""
        await self._ended.wait()
        if self._failure is not None:
            raise self._failure
        assert self._turn is not None
        return summarise(self._turn, list(self._messages.values()))


def summarise(turn_data: dict[str, Any], completed_messages: list[dict[str, Any]]) -> TurnResult:
    """A :class:`TurnResult` from the ``turn/completed`` turn and the agent messages that
    completed during the turn (``item/completed``), in arrival order."""
    turn = parse_turn(turn_data)
    messages = [m for m in map(parse_item, completed_messages) if isinstance(m, AgentMessageItem)]
    seen = {m.id for m in messages}
    # turn.items is the server's own summary; it can list a message we never saw complete
    # (e.g. events lost before a subscription), so merge it in.
    messages += [i for i in turn.items if isinstance(i, AgentMessageItem) and i.id not in seen]
    final = [m for m in messages if m.phase in (None, "final_answer")] or messages
    final_text = final[-1].text if final else ""
    error: TurnError | None = turn.error
    return TurnResult(
        status=turn.status,
        final_text=final_text,
        error=error,
        items=turn.items,
        turn=turn,
    )


class Router:
    """Per-connection table of open turn streams, with the held-back notifications."""

    __slots__ = ("_held", "_latest", "_starting", "_streams")

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], TurnStream] = {}
        self._latest: dict[str, TurnStream] = {}
        self._starting: dict[str, int] = {}
        self._held: dict[str, list[Raw]] = {}

    @property
    def open_streams(self) -> int:
        """How many turns have an open stream (a measure of load)."""
        return len(self._streams)

    def threads_with_open_streams(self) -> set[str]:
        """Ids of the threads with at least one open turn stream."""
        return {thread_id for thread_id, _ in self._streams}

    def dispatch(self, method: str, params: dict[str, Any]) -> None:
        """Route one notification; notifications for no open turn are dropped."""
        thread_id = params.get("threadId")
        if thread_id is None:
            return
        turn_id = params.get("turnId")
        if turn_id is None:
            turn = params.get("turn")
            if isinstance(turn, dict):
                turn_id = turn.get("id")
        if turn_id is not None:
            stream = self._streams.get((thread_id, turn_id))
            if stream is not None:
                stream.push(method, params)
                if stream._done:
                    self._drop(stream)
                return
        else:
            stream = self._latest.get(thread_id)
            if stream is not None:
                stream.push(method, params)
                return
        held = self._held.get(thread_id)
        if held is not None:
            held.append((method, params))

    def begin_start(self, thread_id: str) -> None:
        """A ``turn/start`` for ``thread_id`` is in flight: hold back unmatched notifications."""
        self._starting[thread_id] = self._starting.get(thread_id, 0) + 1
        self._held.setdefault(thread_id, [])

    def end_start(self, thread_id: str) -> None:
        """The ``turn/start`` finished (answered, failed or abandoned)."""
        count = self._starting.get(thread_id, 0) - 1
        if count > 0:
            self._starting[thread_id] = count
        else:
            self._starting.pop(thread_id, None)
            self._held.pop(thread_id, None)

    def open(self, thread_id: str, turn_id: str) -> TurnStream:
        """Open the stream of a turn, replaying notifications held back for it."""
        stream = TurnStream(thread_id, turn_id)
        self._streams[(thread_id, turn_id)] = stream
        self._latest[thread_id] = stream
        held = self._held.get(thread_id)
        if held:
            keep: list[Raw] = []
            for method, params in held:
                other = _turn_id_of(params)
                if other is None or other == turn_id:
                    stream.push(method, params)
                else:
                    keep.append((method, params))
            held[:] = keep
        if stream.closed:
            self._drop(stream)
        return stream

    def complete(self, stream: TurnStream, turn: dict[str, Any]) -> None:
        """End a stream with a turn learned otherwise than by ``turn/completed`` (a re-attach
        that found the turn already finished), and forget it."""
        stream.push("turn/completed", {"threadId": stream.thread_id, "turn": turn})
        self._drop(stream)

    def close(self, stream: TurnStream, exc: BaseException) -> None:
        """Fail one stream (its consumer gave up on it) and forget it."""
        stream.fail(exc)
        self._drop(stream)

    def fail_all(self, exc: BaseException) -> None:
        """The connection is gone: fail every open stream and forget everything."""
        streams = list(self._streams.values())
        self._streams.clear()
        self._latest.clear()
        self._starting.clear()
        self._held.clear()
        for stream in streams:
            stream.fail(exc)

    def _drop(self, stream: TurnStream) -> None:
        self._streams.pop((stream.thread_id, stream.turn_id), None)
        if self._latest.get(stream.thread_id) is stream:
            del self._latest[stream.thread_id]
            for (thread_id, _), other in reversed(self._streams.items()):
                if thread_id == stream.thread_id:
                    self._latest[thread_id] = other
                    break


def _turn_id_of(params: dict[str, Any]) -> str | None:
    turn_id = params.get("turnId")
    if turn_id is None:
        turn = params.get("turn")
        if isinstance(turn, dict):
            turn_id = turn.get("id")
    return turn_id if isinstance(turn_id, str) else None

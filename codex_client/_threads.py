"""Handles on Codex threads and turns, and backward paging over a thread's turns.

Handles are cheap views: a :class:`ThreadHandle` is a thread id plus the pool that routes
its requests to the endpoint that owns it; a :class:`TurnHandle` adds the turn id and the
turn's event stream. All the I/O goes through the :class:`ThreadBackend` (the pool).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from ._events import TurnEvent, parse_event
from ._models import TurnResult, TurnsPage, UserMessageItem, parse_turn
from ._routing import TurnStream


class ThreadBackend(Protocol):
    """What handles need from the pool."""

    async def _thread_request(
        self, thread_id: str, endpoint_key: str, method: str, params: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def _open_turn(
        self, thread_id: str, endpoint_key: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any], TurnStream]: ...

    async def _unsubscribe(self, thread_id: str, endpoint_key: str) -> str: ...

    async def _attach_turn(
        self, thread_id: str, endpoint_key: str, turn_id: str
    ) -> tuple[dict[str, Any], TurnStream]: ...

    def _set_subscribed(self, thread_id: str, subscribed: bool) -> None: ...

    def _is_subscribed(self, thread_id: str) -> bool: ...


def text_input(text: str | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``turn/start``/``turn/steer`` input: a plain string becomes one text item."""
    if isinstance(text, str):
        return [{"type": "text", "text": text}]
    return list(text)


class ThreadHandle:
    """A Codex thread on one endpoint.

    ``info`` holds the ``thread/start`` or ``thread/resume`` result when the handle came from
    one (the thread object, model, cwd…), else None.
    """

    def __init__(
        self,
        backend: ThreadBackend,
        thread_id: str,
        endpoint_key: str,
        info: dict[str, Any] | None = None,
    ) -> None:
        self._backend = backend
        self.id = thread_id
        self.endpoint_key = endpoint_key
        self.info = info

    def __repr__(self) -> str:
        return f"ThreadHandle(id={self.id!r}, endpoint_key={self.endpoint_key!r})"

    @property
    def subscribed(self) -> bool:
        """Whether the pool re-subscribes (``thread/resume``) this thread after reconnects,
        even with no turn running. Threads with a running turn are always re-subscribed."""
        return self._backend._is_subscribed(self.id)

    def set_subscribed(self, subscribed: bool) -> None:
        """Mark (or unmark) the thread for re-subscription after reconnects."""
        self._backend._set_subscribed(self.id, subscribed)

    async def unsubscribe(self) -> str:
        """``thread/unsubscribe``: stop receiving the thread's events on this connection, so
        the server may unload it once idle; also clears the subscription mark. Returns the
        server's status (``unsubscribed``, ``notSubscribed`` or ``notLoaded``). A later turn
        resumes the thread again."""
        return await self._backend._unsubscribe(self.id, self.endpoint_key)

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self._backend._thread_request(self.id, self.endpoint_key, method, params)

    async def start_turn(
        self, text: str | Sequence[dict[str, Any]], **overrides: Any
    ) -> TurnHandle:
        """``turn/start`` with ``text`` as input; ``overrides`` are sent as given
        (``approvalPolicy``, ``sandboxPolicy``, ``model``, ``cwd``…) and persist for later turns.

        If the thread is not loaded on its server (e.g. after a server restart), it is
        resumed first, transparently.
        """
        params = {**overrides, "threadId": self.id, "input": text_input(text)}
        turn, stream = await self._backend._open_turn(self.id, self.endpoint_key, params)
        return TurnHandle(self, turn["id"], stream)

    async def attach_turn(self, turn_id: str) -> TurnHandle:
        """Follow a turn started elsewhere: by another process, or before a reconnect.

        The thread is resumed on its endpoint (so this connection receives its events) and
        the turn read back. A running turn's handle streams its events from now on (deltas
        sent before the attach are not replayed); a finished turn's handle yields just its
        :class:`TurnCompleted`, and ``wait()`` gives its result with the final text. Raises
        TurnLost when the server neither runs the turn nor knows it finished (it restarted
        mid-turn, or never had the turn).
        """
        turn, stream = await self._backend._attach_turn(self.id, self.endpoint_key, turn_id)
        return TurnHandle(self, turn["id"], stream)

    async def find_turn(self, client_user_message_id: str, *, newest: int = 10) -> str | None:
        """The id of the turn, among the ``newest`` turns, whose user message was sent with
        ``clientUserMessageId`` (so a request that may have been sent is not sent twice)."""
        page = await self.turns(limit=newest).next_page()
        for turn in page.turns if page is not None else []:
            for item in turn.items:
                if isinstance(item, UserMessageItem) and item.client_id == client_user_message_id:
                    return turn.id
        return None

    async def steer(self, text: str, *, expected_turn_id: str) -> str:
        """``turn/steer``: add input to the running turn; returns its id.

        Raises NoActiveTurn when no turn is running (start one instead), and TurnMismatch
        (with ``.expected`` and ``.actual``) when another turn is running.
        """
        result = await self._call(
            "turn/steer",
            {"threadId": self.id, "expectedTurnId": expected_turn_id, "input": text_input(text)},
        )
        turn_id = result.get("turnId")
        return turn_id if isinstance(turn_id, str) else expected_turn_id

    async def interrupt(self, turn_id: str) -> None:
        """``turn/interrupt``; the turn then completes with status ``interrupted``."""
        await self._call("turn/interrupt", {"threadId": self.id, "turnId": turn_id})

    async def read(self, *, include_turns: bool = False) -> dict[str, Any]:
        """``thread/read``: the thread (and its turns when asked; prefer :meth:`turns`)."""
        return await self._call("thread/read", {"threadId": self.id, "includeTurns": include_turns})

    def turns(
        self,
        *,
        limit: int = 20,
        items_view: str = "summary",
        cursor: str | None = None,
        sort_direction: str = "desc",
    ) -> TurnPager:
        """A pager over ``thread/turns/list``, newest first by default, from ``cursor``."""
        return TurnPager(self, limit, items_view, cursor, sort_direction)


class TurnHandle:
    """A running (or finished) turn and its events."""

    def __init__(self, thread: ThreadHandle, turn_id: str, stream: TurnStream) -> None:
        self.thread = thread
        self.id = turn_id
        self.thread_id = thread.id
        self._stream = stream
        self._consumed = False

    def __repr__(self) -> str:
        return f"TurnHandle(id={self.id!r}, thread_id={self.thread_id!r})"

    async def events(self) -> AsyncIterator[TurnEvent]:
        """The turn's events, in order, ending after :class:`TurnCompleted`.

        Raises ConnectionLost if the connection drops first (after the events received
        before the drop). Only one consumer may iterate; a second gets RuntimeError.
        """
        if self._consumed:
            raise RuntimeError("a turn's events() can be consumed only once")
        self._consumed = True
        stream = self._stream
        while True:
            # Drain what is queued without a suspension point per event; await only when empty.
            raw = stream.pop_ready() or await stream.get()
            if raw is None:
                return
            yield parse_event(raw[0], raw[1])

    async def wait(self) -> TurnResult:
        """Wait for the turn to end and return its result (whether or not events were read)."""
        return await self._stream.result()

    async def steer(self, text: str) -> str:
        """Steer this turn (``expectedTurnId`` = this turn's id)."""
        return await self.thread.steer(text, expected_turn_id=self.id)

    async def interrupt(self) -> None:
        """Interrupt this turn."""
        await self.thread.interrupt(self.id)


class TurnPager:
    """Pages over a thread's turns (backward in time with the default ``desc``).

    ``cursor`` is the cursor the next page will be fetched with, so a UI can store it and
    build a fresh pager from it later; ``exhausted`` turns True after the last page.
    """

    def __init__(
        self,
        thread: ThreadHandle,
        limit: int,
        items_view: str,
        cursor: str | None,
        sort_direction: str,
    ) -> None:
        self._thread = thread
        self.limit = limit
        self.items_view = items_view
        self.sort_direction = sort_direction
        self.cursor = cursor
        self.exhausted = False

    async def next_page(self) -> TurnsPage | None:
        """The next page, or None once exhausted."""
        if self.exhausted:
            return None
        params: dict[str, Any] = {
            "threadId": self._thread.id,
            "limit": self.limit,
            "itemsView": self.items_view,
            "sortDirection": self.sort_direction,
        }
        if self.cursor is not None:
            params["cursor"] = self.cursor
        result = await self._thread._call("thread/turns/list", params)
        data = result.get("data")
        turns = (
            [parse_turn(t) for t in data if isinstance(t, dict)] if isinstance(data, list) else []
        )
        next_cursor = result.get("nextCursor")
        backwards = result.get("backwardsCursor")
        page = TurnsPage(
            turns=turns,
            next_cursor=next_cursor if isinstance(next_cursor, str) else None,
            cursor=self.cursor,
            backwards_cursor=backwards if isinstance(backwards, str) else None,
        )
        self.cursor = page.next_cursor
        self.exhausted = page.next_cursor is None
        return page

    def __aiter__(self) -> AsyncIterator[TurnsPage]:
        return self._pages()

    async def _pages(self) -> AsyncIterator[TurnsPage]:
        while (page := await self.next_page()) is not None:
            yield page

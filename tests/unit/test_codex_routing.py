"""Routing a connection's notifications into per-turn streams."""

from __future__ import annotations

from typing import Any

import pytest

from codex_client import ConnectionLost
from codex_client._routing import Router, TurnStream


def delta(thread: str, turn: str, text: str, item: str = "m") -> dict[str, Any]:
    return {"threadId": thread, "turnId": turn, "itemId": item, "delta": text}


def completed(thread: str, turn: str, text: str | None = None) -> dict[str, Any]:
    items = [{"type": "agentMessage", "id": "m", "text": text}] if text is not None else []
    return {"threadId": thread, "turn": {"id": turn, "status": "completed", "items": items}}


async def drain(stream: TurnStream) -> list[tuple[str, dict[str, Any]]]:
    out = []
    while (raw := await stream.get()) is not None:
        out.append(raw)
    return out


async def test_notifications_go_to_the_stream_of_their_turn() -> None:
    """Each turn's stream gets its own notifications only, ending at turn/completed."""
    router = Router()
    a = router.open("t1", "a")
    b = router.open("t2", "b")
    router.dispatch("item/agentMessage/delta", delta("t1", "a", "for a"))
    router.dispatch("item/agentMessage/delta", delta("t2", "b", "for b"))
    router.dispatch("turn/completed", completed("t1", "a"))
    assert [p.get("delta") for _, p in await drain(a)] == ["for a", None]
    assert a.closed
    assert not b.closed
    assert router.open_streams == 1


async def test_events_before_the_turn_id_is_known_are_replayed_in_order() -> None:
    """During a turn/start, early notifications of the thread are held, then replayed."""
    router = Router()
    router.begin_start("t")
    router.dispatch("warning", {"threadId": "t", "message": "thread-scoped"})
    router.dispatch("turn/started", {"threadId": "t", "turn": {"id": "u"}})
    router.dispatch("item/agentMessage/delta", delta("t", "u", "early"))
    router.dispatch("item/agentMessage/delta", delta("t", "older-turn", "not ours"))
    stream = router.open("t", "u")
    router.end_start("t")
    router.dispatch("item/agentMessage/delta", delta("t", "u", "late"))
    router.dispatch("turn/completed", completed("t", "u"))
    methods = [(m, p.get("delta")) for m, p in await drain(stream)]
    assert methods == [
        ("warning", None),
        ("turn/started", None),
        ("item/agentMessage/delta", "early"),
        ("item/agentMessage/delta", "late"),
        ("turn/completed", None),
    ]


async def test_nothing_is_held_without_a_turn_start_in_flight() -> None:
    """Notifications for unknown turns are dropped when no turn/start is pending."""
    router = Router()
    router.dispatch("item/agentMessage/delta", delta("t", "u", "lost"))
    router.begin_start("t")
    router.end_start("t")
    router.dispatch("item/agentMessage/delta", delta("t", "u", "lost too"))
    stream = router.open("t", "u")
    router.dispatch("turn/completed", completed("t", "u"))
    assert [m for m, _ in await drain(stream)] == ["turn/completed"]


async def test_thread_scoped_notifications_go_to_the_threads_newest_turn() -> None:
    """A notification with a threadId but no turn id reaches the thread's open stream."""
    router = Router()
    stream = router.open("t", "u")
    router.dispatch("thread/status/changed", {"threadId": "t", "status": {"type": "idle"}})
    router.dispatch("thread/status/changed", {"threadId": "other", "status": {}})
    router.dispatch("account/rateLimits/updated", {"rateLimits": {}})
    router.dispatch("turn/completed", completed("t", "u"))
    assert [m for m, _ in await drain(stream)] == ["thread/status/changed", "turn/completed"]


async def test_failure_is_raised_after_the_queued_events() -> None:
    """fail_all lets a reader drain what arrived, then raises ConnectionLost."""
    router = Router()
    stream = router.open("t", "u")
    router.dispatch("item/agentMessage/delta", delta("t", "u", "kept"))
    router.fail_all(ConnectionLost("gone"))
    assert await stream.get() == ("item/agentMessage/delta", delta("t", "u", "kept"))
    with pytest.raises(ConnectionLost):
        await stream.get()
    with pytest.raises(ConnectionLost):
        await stream.result()
    assert router.open_streams == 0


async def test_result_needs_no_reader_and_ignores_abandoned_deltas() -> None:
    """result() works with the queue unread; a message that never completed is not final."""
    router = Router()
    stream = router.open("t", "u")
    router.dispatch("item/agentMessage/delta", delta("t", "u", "abandoned", item="old"))
    router.dispatch(
        "item/completed",
        {
            "threadId": "t",
            "turnId": "u",
            "item": {"type": "agentMessage", "id": "new", "text": "ok"},
        },
    )
    router.dispatch("turn/completed", completed("t", "u"))
    result = await stream.result()
    assert (result.status, result.final_text) == ("completed", "ok")


def test_threads_with_open_streams_are_reported_for_resubscription() -> None:
    """The router names the threads whose turns are still open (to resume after a drop)."""
    router = Router()
    router.open("t1", "a")
    router.open("t2", "b")
    router.dispatch("turn/completed", completed("t2", "b"))
    assert router.threads_with_open_streams() == {"t1"}

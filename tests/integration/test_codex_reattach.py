"""Re-attaching to a turn (``ThreadHandle.attach_turn``) on the real app-server.

What a bot replica does when it takes a Slack thread over from one that died, or when its own
connection dropped mid-turn: follow a running turn from another connection, read a finished
one's final text, and learn that a turn died with its server.
"""

from __future__ import annotations

import pytest

from codex_client import (
    AgentMessageDelta,
    CodexPool,
    ItemCompleted,
    TurnCompleted,
    TurnLost,
)
from playground.model.scripted import ModelServer
from tests.fakes.codex_server import CodexServer
from tests.integration.test_codex_real import pool_for

pytestmark = pytest.mark.real_codex


async def test_a_second_pool_follows_a_running_turn_to_its_exact_final_text(
    codex_server: CodexServer, model_server: ModelServer
) -> None:
    """A turn started by one client is followed by another from the middle to its end."""
    async with pool_for(codex_server) as first, pool_for(codex_server) as second:
        thread = await first.start_thread()
        started = await thread.start_turn("HOLD please")
        await model_server.wait_for_hold()

        attached = await second.thread(thread.id).attach_turn(started.id)
        model_server.release()
        events = [event async for event in attached.events()]
        result = await attached.wait()

    deltas = [e.delta for e in events if isinstance(e, AgentMessageDelta)]
    assert deltas == ["then released"]  # what was sent before the attach is not replayed
    assert any(isinstance(e, ItemCompleted) for e in events)
    assert isinstance(events[-1], TurnCompleted)
    assert result.status == "completed"
    assert result.final_text == "held then released"


async def test_attaching_to_a_finished_turn_gives_its_final_text(
    codex_server: CodexServer,
) -> None:
    """A turn that ended before the attach yields just its completion and its final text."""
    async with pool_for(codex_server) as first, pool_for(codex_server) as second:
        thread = await first.start_thread()
        done = await (await thread.start_turn("finished already")).wait()
        turn_id = done.turn.id

        attached = await second.thread(thread.id).attach_turn(turn_id)
        events = [event async for event in attached.events()]
        result = await attached.wait()

    # Thread-wide notifications (the resume's `thread/goal/cleared`) may come first.
    assert isinstance(events[-1], TurnCompleted)
    assert not any(isinstance(e, AgentMessageDelta | ItemCompleted) for e in events)
    assert result.status == "completed"
    assert result.final_text == "echo: finished already"


async def test_a_turn_that_died_with_its_server_is_reported_lost(
    codex_server: CodexServer, model_server: ModelServer
) -> None:
    """After a crash and restart the server shows the turn interrupted with no end: lost."""
    async with pool_for(codex_server) as pool:
        thread = await pool.start_thread()
        started = await thread.start_turn("HOLD crash here")
        await model_server.wait_for_hold()
        await codex_server.kill()
        await codex_server.start()

        with pytest.raises(TurnLost) as lost:
            await pool.thread(thread.id).attach_turn(started.id)
        assert lost.value.turn_id == started.id

        # The thread itself survived: the request can be run again.
        model_server.release()
        again = await (await pool.thread(thread.id).start_turn("run it again")).wait()
    assert again.final_text == "echo: run it again"


async def test_an_unknown_turn_is_lost(codex_server: CodexServer) -> None:
    """A turn id the server never had cannot be followed."""
    async with pool_for(codex_server) as pool:
        thread = await pool.start_thread()
        await (await thread.start_turn("one turn")).wait()
        with pytest.raises(TurnLost):
            await thread.attach_turn("00000000-0000-0000-0000-000000000000")


async def test_find_turn_by_client_user_message_id(codex_server: CodexServer) -> None:
    """A turn sent with a clientUserMessageId is found by it; an id never sent is not."""
    async with pool_for(codex_server) as pool:
        thread = await pool.start_thread()
        first = await thread.start_turn("first", clientUserMessageId="slack:U1:C1:1.000001")
        await first.wait()
        second = await thread.start_turn("second", clientUserMessageId="slack:U1:C1:1.000002")
        await second.wait()

        other: CodexPool
        async with pool_for(codex_server) as other:
            handle = other.thread(thread.id)
            assert await handle.find_turn("slack:U1:C1:1.000001") == first.id
            assert await handle.find_turn("slack:U1:C1:1.000002") == second.id
            assert await handle.find_turn("slack:U1:C1:9.999999") is None

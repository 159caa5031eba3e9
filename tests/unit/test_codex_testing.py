"""codex_client.testing: the in-memory transport pair, and the fake app-server served in memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codex_client import (
    AgentMessageDelta,
    AuthError,
    Backoff,
    CapabilityTokenAuth,
    CodexPool,
    ConnectionLost,
    Endpoint,
    TransportError,
)
from codex_client.testing import FakeAppServer, memory_transport_pair


async def test_a_memory_pair_carries_frames_both_ways_until_either_end_closes() -> None:
    """Frames arrive whole and in order; a close fails both ends with ConnectionLost."""
    one, two = memory_transport_pair()
    await one.send("a")
    await one.send(b"b")
    await two.send("c")
    assert [await two.recv(), await two.recv(), await one.recv()] == ["a", b"b", "c"]
    pending = asyncio.create_task(one.recv())
    await two.close()
    for failing in (pending, one.recv(), two.recv(), one.send("x"), two.send("y")):
        with pytest.raises(ConnectionLost):
            await failing
    assert one.closed
    assert two.closed


def memory_pool(server: FakeAppServer, **kwargs: object) -> CodexPool:
    backoff = Backoff(initial=0.001, maximum=0.001, jitter=0.0)
    return CodexPool(
        [Endpoint(server.url, **kwargs)],  # type: ignore[arg-type]
        backoff=backoff,
        request_timeout=5,
        transport_factory=server.connect,
    )


async def test_a_pool_runs_turns_against_the_fake_in_memory() -> None:
    """No socket: the pool's transport_factory is the fake's connect, and turns stream."""
    async with FakeAppServer(listen=False) as server, memory_pool(server) as pool:
        thread = await pool.start_thread()
        turn = await thread.start_turn("in memory")
        deltas = [e.delta async for e in turn.events() if isinstance(e, AgentMessageDelta)]
        result = await turn.wait()
    assert server.url.endswith(".invalid")
    assert server.port == 0
    assert "".join(deltas) == result.final_text == "echo: in memory"
    assert server.methods()[:3] == ["initialize", "initialized", "thread/start"]


async def test_a_dropped_memory_connection_is_reconnected_and_the_turn_fails() -> None:
    """drop() cuts in-memory connections as it cuts sockets: streams fail, the pool comes back."""
    async with FakeAppServer(listen=False) as server, memory_pool(server) as pool:
        reconnected = asyncio.Event()
        pool.add_reconnect_listener(lambda key: reconnected.set())
        server.hold_turns = True
        turn = await (await pool.start_thread()).start_turn("held")
        await server.wait_for(lambda: server.held_turns() == 1)
        await server.drop()
        with pytest.raises(ConnectionLost):
            await turn.wait()
        await asyncio.wait_for(reconnected.wait(), 5)
        assert [serial for serial, _ in server.received][-1] == 1
        assert "thread/resume" in server.methods(1)


async def test_a_closed_fake_refuses_and_a_wrong_token_is_an_auth_error(tmp_path: Path) -> None:
    """connect() fails like a refused connection while closed, and like HTTP 401 on a bad token."""
    token = tmp_path / "token"
    token.write_text("wrong")
    server = FakeAppServer(listen=False, token="right")
    with pytest.raises(TransportError):
        await server.connect(Endpoint(server.url))
    async with server:
        refused = memory_pool(server, auth=CapabilityTokenAuth(token))
        with pytest.raises(AuthError):
            await refused.start()
        await refused.close()  # start() leaves background retries to the caller's choice
        token.write_text("right\n")
        async with memory_pool(server, auth=CapabilityTokenAuth(token)) as pool:
            assert (await pool.check())[server.url]["ok"]
    assert [h.get("Authorization") for h in server.upgrade_headers] == [
        "Bearer wrong",
        "Bearer right",
    ]

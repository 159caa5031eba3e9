"""codex_client against the fault-injecting fake app-server: overload, noise, drops, auth."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from codex_client import (
    AgentMessageDelta,
    ApprovalRequest,
    AuthError,
    Backoff,
    CapabilityTokenAuth,
    CodexPool,
    CommandExecutionApproval,
    ConnectionLost,
    Endpoint,
    NoActiveTurn,
    ProtocolError,
    RequestTimeout,
    ServerOverloaded,
    SignedBearerTokenAuth,
    TransportError,
    TurnCompleted,
    TurnEvent,
    TurnMismatch,
    TurnStarted,
)
from codex_client.testing import FakeAppServer
from tests.conftest import free_port


class RecordingSleep:
    """A Backoff sleep that records each delay and only yields to the loop."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._changed = asyncio.Condition()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        async with self._changed:
            self._changed.notify_all()
        await asyncio.sleep(0)

    async def wait_count(self, count: int) -> None:
        """Wait until ``count`` delays were requested."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.delays) >= count), 5)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def fake() -> AsyncIterator[FakeAppServer]:
    async with FakeAppServer() as server:
        yield server


def make_pool(url: str, sleeps: RecordingSleep, **kwargs: Any) -> CodexPool:
    backoff = Backoff(initial=0.01, maximum=0.08, jitter=0.0, sleep=sleeps)
    kwargs.setdefault("request_timeout", 5.0)
    return CodexPool([Endpoint(url, **kwargs.pop("endpoint", {}))], backoff=backoff, **kwargs)


async def collect(events: AsyncIterator[TurnEvent]) -> list[TurnEvent]:
    return [event async for event in events]


async def test_overload_is_retried_with_growing_backoff_then_succeeds(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """Two -32001 answers are retried after growing delays, and the third attempt succeeds."""
    fake.overload["thread/start"] = 2
    async with make_pool(fake.url, sleeps) as pool:
        thread = await pool.start_thread()
    assert thread.id
    assert fake.methods().count("thread/start") == 3
    assert sleeps.delays == [0.01, 0.02]


async def test_endless_overload_raises_server_overloaded_after_the_retry_limit(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """-32001 forever ends in ServerOverloaded after exactly 1 + overload_retries attempts."""
    async with make_pool(fake.url, sleeps, overload_retries=3) as pool:
        thread = await pool.start_thread()
        fake.overload["turn/start"] = -1
        with pytest.raises(ServerOverloaded) as caught:
            await thread.start_turn("hello")
    assert caught.value.code == -32001
    assert fake.methods().count("turn/start") == 4
    assert sleeps.delays == [0.01, 0.02, 0.04]


async def test_malformed_frames_and_unknown_methods_do_not_kill_the_connection(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """Bad JSON, binary frames, stray answers and unknown notifications are dropped quietly."""
    fake.noise = True
    async with make_pool(fake.url, sleeps) as pool:
        thread = await pool.start_thread()
        turn = await thread.start_turn("through the noise")
        events = await collect(turn.events())
        result = await turn.wait()
        assert pool.reconnects == 0
    assert result.final_text == "echo: through the noise"
    assert isinstance(events[-1], TurnCompleted)
    deltas = [e.delta for e in events if isinstance(e, AgentMessageDelta)]
    assert "".join(deltas) == "echo: through the noise"


async def test_events_sent_before_the_turn_start_answer_reach_the_stream(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """turn/started and a delta that beat the turn/start answer are replayed into the stream."""
    fake.early_events = True
    async with make_pool(fake.url, sleeps) as pool:
        thread = await pool.start_thread()
        turn = await thread.start_turn("early bird")
        events = await collect(turn.events())
    assert isinstance(events[0], TurnStarted)
    assert events[0].turn_id == turn.id
    assert "".join(e.delta for e in events if isinstance(e, AgentMessageDelta)) == (
        "echo: early bird"
    )


async def test_a_slow_consumer_of_one_turn_never_stalls_another(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """A turn whose events nobody reads does not hold up another turn on the same connection."""
    async with make_pool(fake.url, sleeps) as pool:
        ignored = await (await pool.start_thread()).start_turn("nobody listens " * 50)
        watched = await (await pool.start_thread()).start_turn("watched")
        result = await watched.wait()
        ignored_result = await ignored.wait()
    assert result.final_text == "echo: watched"
    assert ignored_result.status == "completed"


async def test_drop_mid_turn_fails_the_stream_and_requests_then_reconnects_and_resumes(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """A drop fails the stream and pending requests; the pool reconnects and resumes the thread."""
    fake.hold_turns = True
    fake.stall.add("fake/neverAnswered")
    async with make_pool(fake.url, sleeps) as pool:
        reconnected = asyncio.Event()
        pool.add_reconnect_listener(lambda key: reconnected.set())
        thread = await pool.start_thread()
        idle = await pool.start_thread()
        turn = await thread.start_turn("hold on")
        events = turn.events()
        first = [await anext(events) for _ in range(3)]
        assert isinstance(first[-1], AgentMessageDelta)
        pending = asyncio.create_task(pool.request("fake/neverAnswered", {}))
        await fake.wait_for(lambda: "fake/neverAnswered" in fake.methods())

        await fake.drop()

        with pytest.raises(ConnectionLost):
            await anext(events)
        with pytest.raises(ConnectionLost):
            await pending
        with pytest.raises(ConnectionLost):
            await turn.wait()
        await asyncio.wait_for(reconnected.wait(), 5)
        assert pool.reconnects == 1
        resumed = [
            m["params"]["threadId"]
            for serial, m in fake.received
            if serial == 1 and m.get("method") == "thread/resume"
        ]
        assert resumed == [thread.id]  # the idle thread is resumed lazily, not now
        fake.hold_turns = False
        again = await (await thread.start_turn("after the drop")).wait()
        later = await (await idle.start_turn("idle one")).wait()
    assert again.final_text == "echo: after the drop"
    assert later.final_text == "echo: idle one"
    assert fake.methods(1).count("thread/resume") == 2


async def test_threads_marked_subscribed_are_resumed_after_a_drop(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """A thread marked subscribed is re-resumed on reconnect even with no turn running."""
    async with make_pool(fake.url, sleeps) as pool:
        reconnected = asyncio.Event()
        pool.add_reconnect_listener(lambda key: reconnected.set())
        thread = await pool.start_thread()
        thread.set_subscribed(True)
        await fake.drop()
        await asyncio.wait_for(reconnected.wait(), 5)
    assert thread.subscribed
    assert [m.get("params", {}).get("threadId") for s, m in fake.received if s == 1][-1] == (
        thread.id
    )


async def test_reconnect_backs_off_while_the_server_is_down(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """While the server is down the pool retries with backoff, and recovers when it returns."""
    async with make_pool(fake.url, sleeps) as pool:
        reconnected = asyncio.Event()
        pool.add_reconnect_listener(lambda key: reconnected.set())
        await fake.close()
        await sleeps.wait_count(5)
        down = (await pool.check())[fake.url]
        await fake.start()
        await asyncio.wait_for(reconnected.wait(), 5)
        health = await pool.check()
    assert not down["ok"]
    assert "error" in down
    assert health[fake.url]["ok"]
    assert sleeps.delays[:5] == [0.01, 0.02, 0.04, 0.08, 0.08]


async def test_http_401_raises_auth_error_at_once(tmp_path: Path, sleeps: RecordingSleep) -> None:
    """A refused token is AuthError from start(), after one upgrade attempt and no retries."""
    token_file = tmp_path / "token"
    token_file.write_text("wrong-token-0123456789\n")
    async with FakeAppServer(token="right-token") as fake:
        pool = make_pool(fake.url, sleeps, endpoint={"auth": CapabilityTokenAuth(token_file)})
        with pytest.raises(AuthError) as caught:
            await pool.start()
        await pool.close()  # start() leaves background retries to the caller's choice
    assert len(fake.upgrade_headers) == 1
    assert sleeps.delays == []
    assert "wrong-token" not in str(caught.value)


@pytest.mark.parametrize("kind", ["capability-token", "jwt"])
async def test_credentials_are_sent_without_origin_and_never_logged(
    tmp_path: Path, sleeps: RecordingSleep, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """The bearer token goes out without Origin and never shows in logs, reprs or health reports."""
    secret = "s3cret-value-that-is-at-least-32-bytes-long"
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret + "\n")
    auth: CapabilityTokenAuth | SignedBearerTokenAuth = (
        CapabilityTokenAuth(secret_file)
        if kind == "capability-token"
        else SignedBearerTokenAuth(secret_file, issuer="i", audience="a")
    )
    caplog.set_level(logging.DEBUG)
    async with (
        FakeAppServer(token=secret if kind == "capability-token" else None) as fake,
        make_pool(fake.url, sleeps, endpoint={"auth": auth}) as pool,
    ):
        await pool.start_thread()
        text = repr(pool._slots) + repr(await pool.check()) + repr(auth)
    headers = fake.upgrade_headers[0]
    token = headers["Authorization"].removeprefix("Bearer ")
    assert token == secret if kind == "capability-token" else token.count(".") == 2
    assert "Origin" not in headers
    # The fake server's own (websockets.server) logs are not the client's business.
    client_logs = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("codex_client", "websockets.client"))
    ]
    assert any(line.startswith("> Authorization:") for line in client_logs)
    for needle in (token, secret):
        assert not any(needle in line for line in client_logs)
        assert needle not in text


async def test_server_requests_are_answered_by_the_handler_or_refused(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """The approval handler's dict is the answer; with no handler the client answers -32601."""
    seen: list[ApprovalRequest] = []

    async def approve(request: ApprovalRequest) -> dict[str, Any]:
        seen.append(request)
        return {"decision": "accept"}

    params = {"threadId": "t1", "turnId": "u1", "itemId": "i1", "command": "ls"}
    async with make_pool(fake.url, sleeps, approval_handler=approve):
        answer = await fake.server_request("item/commandExecution/requestApproval", params)
    async with make_pool(fake.url, sleeps):
        refused = await fake.server_request("item/tool/requestUserInput", {"threadId": "t1"})
    assert answer == {"id": 0, "result": {"decision": "accept"}}
    assert (seen[0].thread_id, seen[0].turn_id) == ("t1", "u1")
    assert isinstance(seen[0].details, CommandExecutionApproval)
    assert seen[0].details.command == "ls"
    assert seen[0].endpoint_key == fake.url
    assert refused["id"] == 0
    assert refused["error"]["code"] == -32601


@pytest.mark.parametrize("failure", ["raises", "not JSON", "not a dict"])
async def test_a_failing_handler_still_answers_so_the_turn_cannot_stall(
    fake: FakeAppServer, sleeps: RecordingSleep, failure: str
) -> None:
    """An approval handler that raises, or whose answer cannot be sent, yields a JSON-RPC
    error answer (a refusal)."""

    async def broken(request: ApprovalRequest) -> Any:
        if failure == "raises":
            raise RuntimeError("bug")
        return {"decision": object()} if failure == "not JSON" else ["accept"]

    async with make_pool(fake.url, sleeps, approval_handler=broken):
        answer = await fake.server_request("item/fileChange/requestApproval", {"threadId": "t"})
    assert answer["error"]["code"] == -32603


async def test_params_that_are_not_json_raise_protocol_error(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """A request whose params cannot be sent raises ProtocolError (a CodexError), chained to
    the encoder's error, and the connection lives on."""
    async with make_pool(fake.url, sleeps) as pool:
        with pytest.raises(ProtocolError) as caught:
            await pool.request("thread/start", {"cwd": object()})
        thread = await pool.start_thread()
    assert isinstance(caught.value.__cause__, TypeError)
    assert thread.id


async def test_an_unanswered_request_times_out(fake: FakeAppServer, sleeps: RecordingSleep) -> None:
    """A request the server never answers raises RequestTimeout and the connection lives on."""
    fake.stall.add("fake/neverAnswered")
    async with make_pool(fake.url, sleeps, request_timeout=0.2) as pool:
        with pytest.raises(RequestTimeout) as caught:
            await pool.request("fake/neverAnswered", {})
        thread = await pool.start_thread()
    assert thread.id
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_steer_errors_map_to_typed_exceptions(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """Steering an idle thread is NoActiveTurn; naming the wrong turn is TurnMismatch."""
    fake.hold_turns = True
    async with make_pool(fake.url, sleeps) as pool:
        thread = await pool.start_thread()
        with pytest.raises(NoActiveTurn):
            await thread.steer("x", expected_turn_id="nope")
        turn = await thread.start_turn("held")
        await fake.wait_for(lambda: fake.held_turns() == 1)
        with pytest.raises(TurnMismatch) as caught:
            await thread.steer("x", expected_turn_id="nope")
        assert await turn.steer("y") == turn.id
        await turn.interrupt()
        result = await turn.wait()
    assert (caught.value.expected, caught.value.actual) == ("nope", turn.id)
    assert result.status == "interrupted"
    assert result.final_text == ""


async def test_start_fails_with_transport_error_when_nothing_listens(
    sleeps: RecordingSleep,
) -> None:
    """start() raises TransportError when nothing listens, then recovers once a server appears."""
    port = free_port()
    pool = make_pool(f"ws://127.0.0.1:{port}", sleeps)
    reconnected = asyncio.Event()
    pool.add_reconnect_listener(lambda key: reconnected.set())
    with pytest.raises(TransportError) as caught:
        await pool.start()
    assert isinstance(caught.value.__cause__, OSError)
    late = FakeAppServer()
    late.port = port
    try:
        await sleeps.wait_count(2)
        await late.start()
        await asyncio.wait_for(reconnected.wait(), 5)
        thread = await pool.start_thread()
    finally:
        await pool.close()
        await late.close()
    assert thread.endpoint_key == f"ws://127.0.0.1:{port}"


async def test_a_thread_the_server_forgot_is_resumed_and_the_turn_retried(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """turn/start answered "thread not found" triggers thread/resume and one retry."""
    async with make_pool(fake.url, sleeps) as pool:
        thread = await pool.start_thread()
        fake.loaded.clear()
        result = await (await thread.start_turn("still there?")).wait()
    assert result.final_text == "echo: still there?"
    assert fake.methods()[-3:] == ["turn/start", "thread/resume", "turn/start"]


async def test_unsubscribe_clears_the_mark_and_the_next_turn_resumes(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """After unsubscribe a thread is no longer kept, and its next turn resumes it first."""
    async with make_pool(fake.url, sleeps) as pool:
        thread = await pool.start_thread()
        thread.set_subscribed(True)
        assert await thread.unsubscribe() == "unsubscribed"
        assert not thread.subscribed
        await (await thread.start_turn("back")).wait()
    assert fake.methods()[-3:] == ["thread/unsubscribe", "thread/resume", "turn/start"]


async def test_threads_spread_over_endpoints_and_connections(sleeps: RecordingSleep) -> None:
    """New threads go to the least-loaded endpoint and connection, and stay pinned there."""
    async with FakeAppServer() as one, FakeAppServer() as two:
        backoff = Backoff(initial=0.01, jitter=0.0, sleep=sleeps)
        endpoints = [Endpoint(one.url), Endpoint(two.url)]
        async with CodexPool(endpoints, connections_per_endpoint=2, backoff=backoff) as pool:
            threads = [await pool.start_thread() for _ in range(4)]
            keys = [t.endpoint_key for t in threads]
            stored = pool.thread(threads[1].id, endpoint_key=keys[1])
            await (await stored.start_turn("routed")).wait()
            pinned = await pool.start_thread(endpoint_key=two.url)
    assert keys == [one.url, two.url, one.url, two.url]
    assert pinned.endpoint_key == two.url
    # Two connections per endpoint: each thread/start went out on a different connection.
    starts = [serial for serial, m in one.received if m.get("method") == "thread/start"]
    assert sorted(starts) == [0, 1]
    assert "turn/start" in two.methods()
    assert "turn/start" not in one.methods()


async def test_start_survives_one_endpoint_being_down(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """With one endpoint down, start() succeeds, check() names it, and threads go to the other."""
    dead = f"ws://127.0.0.1:{free_port()}"
    backoff = Backoff(initial=0.01, maximum=0.02, jitter=0.0, sleep=sleeps)
    async with CodexPool([Endpoint(dead), Endpoint(fake.url)], backoff=backoff) as pool:
        health = await pool.check()
        thread = await pool.start_thread()
    assert health[fake.url]["ok"]
    assert not health[dead]["ok"]
    assert "TransportError" in health[dead]["error"]
    assert thread.endpoint_key == fake.url


async def test_a_stale_stored_endpoint_key_falls_back_to_the_default(
    fake: FakeAppServer, sleeps: RecordingSleep
) -> None:
    """A thread stored under an endpoint no longer configured is served by the first one."""
    async with make_pool(fake.url, sleeps) as pool:
        thread = pool.thread("stored-thread", endpoint_key="ws://10.0.0.9:1")
        result = await (await thread.start_turn("moved")).wait()
    assert thread.endpoint_key == fake.url
    assert result.final_text == "echo: moved"

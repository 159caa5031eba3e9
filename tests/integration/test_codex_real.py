"""codex_client against the real, pinned Codex app-server driven by the scripted model."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from codex_client import (
    AgentMessageDelta,
    AgentMessageItem,
    ApprovalRequest,
    AuthError,
    Backoff,
    CapabilityTokenAuth,
    CodexPool,
    CommandExecutionApproval,
    CommandExecutionItem,
    ConnectionLost,
    Endpoint,
    ItemCompleted,
    NoActiveTurn,
    OtherNotification,
    SignedBearerTokenAuth,
    TurnCompleted,
    TurnMismatch,
    TurnStarted,
    UserMessageItem,
)
from playground.model.scripted import ModelServer
from tests.fakes.codex_server import JWT_AUDIENCE, JWT_ISSUER, AuthMode, CodexServer

pytestmark = pytest.mark.real_codex

# Real waits: the real server restarts in ~0.1 s, so reconnect attempts must be quick.
FAST = Backoff(initial=0.05, maximum=0.2, jitter=0.2)


def pool_for(server: CodexServer, **kwargs: Any) -> CodexPool:
    endpoint = Endpoint(server.url, auth=kwargs.pop("auth", Endpoint(None).auth))
    kwargs.setdefault("request_timeout", 20.0)
    return CodexPool([endpoint], backoff=FAST, **kwargs)


@pytest.fixture
async def pool(codex_server: CodexServer) -> AsyncIterator[CodexPool]:
    async with pool_for(codex_server) as started:
        yield started


@pytest.fixture
async def server_factory(
    codex_binary: Path, model_server: ModelServer, tmp_path: Path
) -> AsyncIterator[Any]:
    """Start extra real servers (with auth, say); all are stopped at the end."""
    started: list[CodexServer] = []

    async def start(auth: AuthMode = "none") -> CodexServer:
        server = CodexServer(
            codex_binary, model_server.base_url, tmp_path / f"codex-{len(started)}", auth=auth
        )
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def test_handshake_reports_the_real_server(
    pool: CodexPool, codex_server: CodexServer, codex_version: str
) -> None:
    """initialize succeeds and check() reports the server's user agent (with the installed
    version) and CODEX_HOME."""
    health = await pool.check()
    entry = health[codex_server.url]
    assert entry["ok"]
    assert entry["initialize"]["codexHome"] == str(codex_server.home)
    assert f"/{codex_version} " in entry["initialize"]["userAgent"]


async def test_two_turns_give_exact_final_texts(pool: CodexPool) -> None:
    """Two turns on one thread stream deltas and end on the model's exact answers."""
    thread = await pool.start_thread()
    first = await thread.start_turn("hello one")
    events = [event async for event in first.events()]
    result_one = await first.wait()
    result_two = await (await thread.start_turn("hello two")).wait()

    typed = [e for e in events if not isinstance(e, OtherNotification)]
    assert isinstance(typed[0], TurnStarted)
    assert isinstance(typed[-1], TurnCompleted)
    # Thread-scoped notifications (the fake model's "metadata not found" warning) ride along.
    assert any(isinstance(e, OtherNotification) and e.method == "warning" for e in events)
    deltas = "".join(e.delta for e in events if isinstance(e, AgentMessageDelta))
    assert deltas == "echo: hello one"
    completed = [e.item for e in events if isinstance(e, ItemCompleted)]
    assert [type(i) for i in completed] == [UserMessageItem, AgentMessageItem]
    assert isinstance(completed[0], UserMessageItem)
    assert completed[0].text == "hello one"
    assert (result_one.status, result_one.final_text) == ("completed", "echo: hello one")
    assert (result_two.status, result_two.final_text) == ("completed", "echo: hello two")


async def test_steer_mid_turn_reaches_the_model_and_only_the_final_message_counts(
    pool: CodexPool, model_server: ModelServer
) -> None:
    """A steer lands in the model's next request; the abandoned partial text is not final."""
    thread = await pool.start_thread()
    turn = await thread.start_turn("HOLD until steered")
    await model_server.wait_for_hold()
    assert await turn.steer("STEER also mention bananas") == turn.id
    request = await model_server.wait_for_request(
        lambda r: r.last_user_text == "STEER also mention bananas"
    )
    result = await turn.wait()
    assert request.user_texts[-2:] == ["HOLD until steered", "STEER also mention bananas"]
    assert result.status == "completed"
    assert result.final_text == "echo: STEER also mention bananas"


async def test_steer_with_a_wrong_id_or_on_an_idle_thread_fails_typed(
    pool: CodexPool, model_server: ModelServer
) -> None:
    """Steering the wrong turn is TurnMismatch(expected, actual); an idle thread NoActiveTurn."""
    thread = await pool.start_thread()
    with pytest.raises(NoActiveTurn):
        await thread.steer("too early", expected_turn_id="nope")
    turn = await thread.start_turn("HOLD for a mismatch")
    await model_server.wait_for_hold()
    with pytest.raises(TurnMismatch) as caught:
        await thread.steer("wrong", expected_turn_id="not-the-turn")
    model_server.release()
    await turn.wait()
    assert (caught.value.expected, caught.value.actual) == ("not-the-turn", turn.id)


async def test_interrupt_ends_the_turn_as_interrupted(
    pool: CodexPool, model_server: ModelServer
) -> None:
    """turn/interrupt on a running turn completes it with status "interrupted"."""
    thread = await pool.start_thread()
    turn = await thread.start_turn("HOLD to be interrupted")
    await model_server.wait_for_hold()
    await turn.interrupt()
    result = await turn.wait()
    assert result.status == "interrupted"
    assert result.final_text == ""


async def test_paging_backward_over_many_turns_has_no_gap_and_no_duplicate(
    pool: CodexPool,
) -> None:
    """Paging 26 turns backward visits each once, ends at the oldest, and resumes from a cursor."""
    thread = await pool.start_thread()
    started = []
    for n in range(26):
        turn = await thread.start_turn(f"DELTAS 1 turn {n}")
        await turn.wait()
        started.append(turn.id)

    pager = thread.turns(limit=7)
    pages = [page async for page in pager]
    ids = [t.id for page in pages for t in page.turns]
    assert ids == started[::-1]
    assert [len(p.turns) for p in pages] == [7, 7, 7, 5]
    assert pages[0].cursor is None
    assert all(p.cursor == prev.next_cursor for prev, p in itertools.pairwise(pages))
    assert pages[-1].next_cursor is None
    assert pager.exhausted
    assert await pager.next_page() is None
    last = pages[-1].turns[-1]
    assert [i.text for i in last.items if isinstance(i, AgentMessageItem)] == [
        "echo: DELTAS 1 turn 0"
    ]

    resumed = thread.turns(limit=7, cursor=pages[1].next_cursor)
    assert [t.id for page in [p async for p in resumed] for t in page.turns] == started[::-1][14:]


@pytest.mark.parametrize("mode", ["capability-token", "signed-bearer-token"])
async def test_ws_auth_accepts_good_credentials_and_refuses_bad_ones(
    server_factory: Any, tmp_path: Path, mode: AuthMode
) -> None:
    """The right token or JWT connects and runs a turn; a wrong one is AuthError."""
    server: CodexServer = await server_factory(mode)
    wrong = tmp_path / "wrong"
    wrong.write_text("x" * 48 + "\n")
    good: Any
    bad: Any
    if mode == "capability-token":
        good, bad = CapabilityTokenAuth(server.token_file), CapabilityTokenAuth(wrong)
    else:
        good = SignedBearerTokenAuth(server.secret_file, JWT_ISSUER, JWT_AUDIENCE)
        bad = SignedBearerTokenAuth(wrong, JWT_ISSUER, JWT_AUDIENCE)
    async with pool_for(server, auth=good) as pool:
        result = await (await (await pool.start_thread()).start_turn("authorised")).wait()
    assert result.final_text == "echo: authorised"
    with pytest.raises(AuthError):
        await pool_for(server, auth=bad).start()


async def test_jwt_with_the_wrong_audience_is_refused(server_factory: Any) -> None:
    """A JWT signed with the right secret but for another audience is AuthError."""
    server: CodexServer = await server_factory("signed-bearer-token")
    auth = SignedBearerTokenAuth(server.secret_file, JWT_ISSUER, "someone-else")
    with pytest.raises(AuthError):
        await pool_for(server, auth=auth).start()


@pytest.mark.parametrize("decision", ["accept", "decline"])
async def test_command_approval_is_asked_and_the_answer_is_honoured(
    codex_server: CodexServer, model_server: ModelServer, decision: str
) -> None:
    """Under "untrusted" a command asks first; accept runs it, decline leaves it declined."""
    asked: list[ApprovalRequest] = []

    async def handler(request: ApprovalRequest) -> dict[str, Any]:
        asked.append(request)
        return {"decision": decision}

    marker = f"made-by-{decision}"
    async with pool_for(codex_server, approval_handler=handler) as pool:
        # workspace-write lets the approved command write in cwd on its first, sandboxed run;
        # under read-only Codex reruns it unsandboxed only when it spots the denial, which
        # proved timing-dependent under load.
        thread = await pool.start_thread(
            approval_policy="untrusted", sandbox="workspace-write", cwd=str(codex_server.cwd)
        )
        turn = await thread.start_turn(f"EXEC touch {marker}")
        items = [e.item async for e in turn.events() if isinstance(e, ItemCompleted)]
        result = await turn.wait()

    assert [r.method for r in asked] == ["item/commandExecution/requestApproval"]
    assert asked[0].thread_id == thread.id
    assert asked[0].turn_id == turn.id
    details = asked[0].details
    assert isinstance(details, CommandExecutionApproval)
    assert details.command is not None
    assert f"touch {marker}" in details.command
    assert details.cwd == str(codex_server.cwd)
    assert details.available_decisions is not None
    assert "accept" in details.available_decisions
    command = next(i for i in items if isinstance(i, CommandExecutionItem))
    assert command.cwd == str(codex_server.cwd)
    assert f"touch {marker}" in command.command
    assert result.status == "completed"
    if decision == "accept":
        assert command.status == "completed", (command.aggregated_output, command.exit_code)
        assert (codex_server.cwd / marker).exists()
        assert result.final_text == f"ran: touch {marker}"
    else:
        assert command.status == "declined"
        assert not (codex_server.cwd / marker).exists()


async def test_stdio_transport_runs_turns(
    codex_binary: Path, model_server: ModelServer, tmp_path: Path
) -> None:
    """A pool over a spawned `codex app-server` (stdio) runs a turn to its exact text."""
    peer = CodexServer(codex_binary, model_server.base_url, tmp_path / "stdio")
    endpoint = Endpoint(None, command=peer.command(None), env=peer.env, cwd=str(peer.cwd))
    async with CodexPool([endpoint], backoff=FAST, request_timeout=20.0) as pool:
        assert pool.endpoint_keys == ["stdio"]
        thread = await pool.start_thread()
        result = await (await thread.start_turn("over stdio")).wait()
        health = await pool.check()
    assert result.final_text == "echo: over stdio"
    assert health["stdio"]["initialize"]["codexHome"] == str(peer.home)


async def test_server_killed_mid_turn_then_restarted(
    codex_server: CodexServer, model_server: ModelServer
) -> None:
    """A killed server fails the turn and a pending request; after restart a resumed turn works."""
    async with pool_for(codex_server) as pool:
        reconnected = asyncio.Event()
        pool.add_reconnect_listener(lambda key: reconnected.set())
        thread = await pool.start_thread()
        turn = await thread.start_turn("HOLD when the server dies")
        events = turn.events()
        await model_server.wait_for_hold()

        pending = asyncio.create_task(thread.read())
        await codex_server.kill()  # SIGKILL is sent before the read's frame goes out

        with pytest.raises(ConnectionLost):
            async for _ in events:
                pass
        with pytest.raises(ConnectionLost):
            await pending
        await codex_server.start()
        await asyncio.wait_for(reconnected.wait(), 20)
        model_server.release()
        result = await (await thread.start_turn("after the restart")).wait()
        assert pool.reconnects == 1
    assert result.final_text == "echo: after the restart"

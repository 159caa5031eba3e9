"""End to end: Codex's approval requests answered with Slack buttons, on any replica.

The channel's policy (``untrusted``, ``workspace-write``) makes the real app-server ask before
the scripted model's ``EXEC <command>`` runs; the answer comes from a signed button click.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from playground.slack.payloads import block_actions_payload
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import (
    CHANNEL,
    USER,
    BotHarness,
    has_stop_button,
    reply_text,
)
from tests.integration.conftest import StartBot
from tests.integration.test_bot_commands import told

OTHER = "U0002"


@pytest.fixture
async def start_bot(start_bot: StartBot, codex_server: CodexServer) -> AsyncIterator[StartBot]:
    """Starts bots (replicas) whose channel asks before running commands."""
    # workspace-write lets an approved command write in cwd on its first, sandboxed run.
    policy = {CHANNEL: {"approval_policy": "untrusted", "sandbox": "workspace-write"}}

    async def start(**extra: Any) -> BotHarness:
        return await start_bot(
            codex_channel_policies=policy, codex_cwd=str(codex_server.cwd), **extra
        )

    yield start
    # The app-server does not exit on SIGTERM while an approval is pending (a test that failed
    # before answering one would hang in teardown); nothing of its state is needed any more.
    await codex_server.kill()


async def prompt(slack: SlackFake, thread_ts: str) -> dict[str, Any]:
    """Wait for the approval message in the thread (the one with decision buttons)."""
    found = await slack.wait_for(
        lambda: next(
            (
                m
                for m in slack.messages(CHANNEL, thread_ts=thread_ts)
                if any(b.get("block_id") == "codex_approval" for b in m.get("blocks") or [])
            ),
            None,
        ),
        timeout=20,
    )
    assert found is not None
    return found


def click(
    message: dict[str, Any], label: str, user: str, *, channel: str = CHANNEL
) -> dict[str, Any]:
    """The block_actions payload of ``user`` pressing the button labelled ``label`` (as Slack
    would report it from ``channel``)."""
    buttons = [
        e for b in message["blocks"] if b["type"] == "actions" for e in b.get("elements", [])
    ]
    button = next(e for e in buttons if e["text"]["text"] == label)
    return block_actions_payload(
        action_id=button["action_id"],
        value=button["value"],
        user=user,
        channel=channel,
        message_ts=message["ts"],
        thread_ts=message.get("thread_ts"),
    )


async def outcome(slack: SlackFake, message: dict[str, Any], fragment: str) -> str:
    """Wait until the approval message's buttons gave way to an outcome containing ``fragment``."""

    def shown() -> str | None:
        now = next(m for m in slack.messages(CHANNEL) if m["ts"] == message["ts"])
        blocks = now.get("blocks") or []
        if any(b["type"] == "actions" for b in blocks) or fragment not in str(blocks):
            return None
        return str(blocks)

    found = await slack.wait_for(shown, timeout=20)
    assert found is not None
    return found


async def final_reply(slack: SlackFake, thread_ts: str, expected: str) -> None:
    """Wait until the turn's reply (its markdown messages, not the prompt) reads ``expected``."""

    def done() -> bool:
        replies = [
            m
            for m in slack.messages(CHANNEL, thread_ts=thread_ts)
            if any(b.get("type") == "markdown" for b in m.get("blocks") or [])
        ]
        return "".join(map(reply_text, replies)) == expected and not any(
            has_stop_button(m) for m in replies
        )

    await slack.wait_for(done, timeout=20)


async def test_approve_runs_the_command_and_shows_who_approved(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer, codex_server: CodexServer
) -> None:
    """The turn's starter presses Approve: the command runs and the prompt names them."""
    event = await harness.mention("EXEC touch approved-from-slack")
    message = await prompt(slack, event["ts"])
    assert "touch approved-from-slack" in str(message["blocks"])
    await harness.interact(click(message, "Approve", USER))
    follow_up = await model_server.wait_for_request(lambda r: r.tool_output is not None)
    assert follow_up.tool_output is not None
    assert (codex_server.cwd / "approved-from-slack").exists()
    await outcome(slack, message, f"<@{USER}> chose *Approve*")
    await final_reply(slack, event["ts"], "ran: touch approved-from-slack")


async def test_decline_leaves_the_command_unrun(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer, codex_server: CodexServer
) -> None:
    """Decline: the command never runs, the model hears it was rejected, the prompt says so."""
    event = await harness.mention("EXEC touch declined-from-slack")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "Decline", USER))
    follow_up = await model_server.wait_for_request(lambda r: r.tool_output is not None)
    assert "reject" in str(follow_up.tool_output).lower()
    await outcome(slack, message, f"<@{USER}> declined")
    await final_reply(slack, event["ts"], "ran: touch declined-from-slack")
    assert not (codex_server.cwd / "declined-from-slack").exists()


async def test_another_users_click_is_refused(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer, codex_server: CodexServer
) -> None:
    """Someone who neither started the turn nor is an approver is told why not; nothing runs."""
    event = await harness.mention("EXEC touch not-yours")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "Approve", OTHER))
    await told(slack, f"Only <@{USER}>", user=OTHER)
    assert not any(r.tool_output is not None for r in model_server.requests)
    await harness.interact(click(message, "Decline", USER))
    await outcome(slack, message, "declined")
    assert not (codex_server.cwd / "not-yours").exists()


async def test_a_click_reported_from_another_channel_decides_nothing(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer, codex_server: CodexServer
) -> None:
    """A signed click whose channel is not the prompt's (a copied button) is refused."""
    event = await harness.mention("EXEC touch from-elsewhere")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "Approve", USER, channel="C0OTHER1"))
    await told(slack, "another channel", user=USER)
    assert not any(r.tool_output is not None for r in model_server.requests)
    await harness.interact(click(message, "Decline", USER))
    await outcome(slack, message, "declined")
    assert not (codex_server.cwd / "from-elsewhere").exists()


async def test_a_configured_approver_may_answer_anothers_turn(
    start_bot: StartBot, slack: SlackFake, codex_server: CodexServer
) -> None:
    """A user on APPROVERS answers a request from someone else's turn."""
    harness = await start_bot(approvers=[OTHER])
    event = await harness.mention("EXEC touch by-approver")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "Approve", OTHER))
    await outcome(slack, message, f"<@{OTHER}> chose *Approve*")
    await final_reply(slack, event["ts"], "ran: touch by-approver")
    assert (codex_server.cwd / "by-approver").exists()


async def test_a_click_on_another_replica_answers_codex(
    start_bot: StartBot, slack: SlackFake, codex_server: CodexServer
) -> None:
    """The click lands on a replica without the Codex request; the holder still answers it."""
    holder = await start_bot()
    other = await start_bot()
    event = await holder.mention("EXEC touch across-replicas")
    message = await prompt(slack, event["ts"])
    await other.interact(click(message, "Approve", USER))
    await outcome(slack, message, f"<@{USER}> chose *Approve*")
    await final_reply(slack, event["ts"], "ran: touch across-replicas")
    assert (codex_server.cwd / "across-replicas").exists()


async def test_the_prompt_expires_when_the_codex_connection_drops(
    harness: BotHarness, slack: SlackFake, codex_server: CodexServer
) -> None:
    """If the app-server connection holding the request drops, the prompt says it expired."""
    event = await harness.mention("EXEC touch never-answered")
    message = await prompt(slack, event["ts"])
    await codex_server.kill()
    await outcome(slack, message, "expired")
    await harness.interact(click(message, "Approve", USER))
    await told(slack, "expired")


async def test_stopping_the_turn_expires_its_pending_approval(
    harness: BotHarness, slack: SlackFake
) -> None:
    """`@bot stop` while an approval waits ends the turn; the prompt then says it expired."""
    event = await harness.mention("EXEC touch stopped-meanwhile")
    message = await prompt(slack, event["ts"])
    await harness.mention("stop", thread_ts=event["ts"])
    await outcome(slack, message, "the turn ended")
    await final_reply(slack, event["ts"], f"_⏹️ Stopped by <@{USER}>._")

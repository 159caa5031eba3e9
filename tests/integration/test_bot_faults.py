"""Faults of the bot's peers mid-turn: the reply still ends in a true state.

In-process bots (:class:`BotHarness`) against the real app-server and the Slack fake: the
app-server crashing or draining mid-turn, and Slack failing (5xx, hanging, dropping
connections) through the moment the final text is written.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot import render
from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from playground.slack.payloads import block_actions_payload
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import CHANNEL, bot_replies, final_reply, reply_text
from tests.integration.conftest import StartBot

pytestmark = pytest.mark.real_codex


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


async def _streaming(slack: SlackFake, thread_ts: str) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        return next((r for r in bot_replies(slack, thread_ts) if "held" in reply_text(r)), None)

    message = await slack.wait_for(shown, timeout=30)
    assert message is not None
    return message


async def test_a_turn_lost_with_the_app_server_says_so_and_can_be_run_again(
    start_bot: StartBot, slack: SlackFake, codex_server: CodexServer, model_server: ModelServer
) -> None:
    """The app-server is killed mid-turn and restarted: the reply says the turn was lost, with
    a Run again button instead of Stop; pressing it answers the same request anew."""
    harness = await start_bot(codex_reattach_seconds=30)
    event = await harness.mention("HOLD lost with the server")
    thread = event["ts"]
    await _streaming(slack, thread)

    await codex_server.kill()
    await codex_server.start()

    def lost() -> dict[str, Any] | None:
        return next(
            (r for r in bot_replies(slack, thread) if "turn was lost" in reply_text(r)), None
        )

    message = await slack.wait_for(lost, timeout=30)
    assert message is not None
    assert reply_text(message).startswith("held")  # what it had shown stays
    assert [b["action_id"] for b in _buttons(message)] == [render.ACTION_RERUN]

    model_server.release()
    button = _buttons(message)[0]
    status, _ = await harness.interact(
        block_actions_payload(
            action_id=button["action_id"],
            value=button["value"],
            user="U0002",
            channel=CHANNEL,
            message_ts=message["ts"],
            thread_ts=thread,
        )
    )
    assert status == 200

    def answered_again() -> bool:
        texts = [reply_text(r) for r in bot_replies(slack, thread)]
        return "held then released" in texts

    await slack.wait_for(answered_again, timeout=30)
    asked = [r for r in model_server.requests if r.last_user_text == "HOLD lost with the server"]
    assert len(asked) == 2  # the lost turn, and the one run again


async def test_a_turn_finished_while_the_app_server_drained_gets_its_exact_final_text(
    start_bot: StartBot, slack: SlackFake, codex_server: CodexServer, model_server: ModelServer
) -> None:
    """SIGTERM makes the app-server finish the turn and exit, often before the bot hears
    turn/completed; after the restart the bot reads the finished turn back: the exact final
    text, not "may be incomplete"."""
    harness = await start_bot(codex_reattach_seconds=30)
    event = await harness.mention("HOLD across a server drain")
    thread = event["ts"]
    await _streaming(slack, thread)

    codex_server.terminate()
    model_server.release()
    assert await codex_server.exited() == 0
    await codex_server.start()

    replies = await final_reply(slack, thread, "held then released")
    assert len(replies) == 1


@pytest.mark.parametrize("mode", ["http500", "hang", "drop"])
async def test_slack_failing_through_the_final_edit_loses_nothing(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer, mode: Any
) -> None:
    """Slack fails every edit and post while the turn ends; once it is back, the reply shows
    the exact final text, in the same message, with no Stop button."""
    harness = await start_bot(slack_timeout_seconds=1.0)
    event = await harness.mention("HOLD through slack trouble")
    thread = event["ts"]
    first = await _streaming(slack, thread)

    window = slack.fault(("chat.update", "chat.postMessage"), mode)
    model_server.release()
    await slack.wait_for(lambda: len(slack.faulted("chat.update")) >= 2, timeout=30)
    window.end()

    replies = await final_reply(slack, thread, "held then released")
    assert [r["ts"] for r in replies] == [first["ts"]]


async def test_finals_that_cannot_be_edited_in_soon_are_posted_and_the_partials_removed(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """With the workspace's edit budget spent (4 a minute, three replies streaming), the
    finished answers do not queue for a minute of edits: each is posted as a new message, the
    partial reply it replaces is deleted, and the thread reads as one exact answer."""
    harness = await start_bot(slack_update_budget_per_minute=4)
    threads = [(await harness.mention(f"HOLD budget {n}"))["ts"] for n in range(3)]
    partials = [(await _streaming(slack, thread))["ts"] for thread in threads]

    model_server.release()
    for thread, partial in zip(threads, partials, strict=True):
        replies = await final_reply(slack, thread, "held then released")
        assert len(replies) == 1
        assert replies[0]["ts"] != partial  # a new message, not an edit of the partial
    deleted = {call["params"]["ts"] for call in slack.calls_for("chat.delete")}
    assert set(partials) <= deleted

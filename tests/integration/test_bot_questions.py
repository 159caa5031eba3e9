"""End to end: Codex's questions to the user (``request_user_input``) answered in Slack.

The scripted model's ``ASK <question>|<option>|…`` calls the real app-server's
``request_user_input`` tool, which the server offers outside Plan mode only with the feature
``default_mode_request_user_input`` (this module's server has it). The server then sends the
bot ``item/tool/requestUserInput``; the answer, from a signed button click or modal
submission, goes back as the tool's output, which the model echoes as ``answer: <output>``.
A scripted MCP server's tool asks for input by MCP elicitation, which the bot cannot show.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import render
from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from playground.slack.payloads import view_submission_payload
from tests.fakes.codex_server import ASK_FEATURES, CodexServer
from tests.fakes.mcp_server import ELICITATION_MESSAGE, mcp_config
from tests.integration.bot_harness import CHANNEL, USER, BotHarness, has_stop_button, reply_text
from tests.integration.conftest import StartBot
from tests.integration.test_bot_approvals import click, outcome
from tests.integration.test_bot_commands import private_texts, told

OTHER = "U0002"


@pytest.fixture
async def codex_server(
    codex_binary: Path, model_server: ModelServer, tmp_path: Path
) -> AsyncIterator[CodexServer]:
    """The real app-server, offering ``request_user_input`` and a scripted MCP server."""
    server = CodexServer(
        codex_binary,
        model_server.base_url,
        tmp_path / "codex",
        features=ASK_FEATURES,
        extra_config=mcp_config("fake"),
    )
    async with server:
        yield server
    # Like an approval, a pending question keeps the server from exiting on SIGTERM.
    await server.kill()


async def prompt(slack: SlackFake, thread_ts: str) -> dict[str, Any]:
    """Wait for the question message in the thread (the one with the question's buttons)."""
    found = await slack.wait_for(
        lambda: next(
            (
                m
                for m in slack.messages(CHANNEL, thread_ts=thread_ts)
                if any(b.get("block_id") == "codex_question" for b in m.get("blocks") or [])
            ),
            None,
        ),
        timeout=20,
    )
    assert found is not None
    return found


def labels(message: dict[str, Any]) -> list[str]:
    """The labels of a message's buttons, in order."""
    return [
        e["text"]["text"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b.get("elements", [])
    ]


async def answered(slack: SlackFake, thread_ts: str) -> str:
    """Wait for the turn's finished reply (the model's ``answer: <tool output>``); its text."""

    def done() -> str | None:
        replies = [
            m
            for m in slack.messages(CHANNEL, thread_ts=thread_ts)
            if any(b.get("type") == "markdown" for b in m.get("blocks") or [])
        ]
        text = "".join(map(reply_text, replies))
        finished = text.startswith("answer: ") and not any(map(has_stop_button, replies))
        return text if finished else None

    found = await slack.wait_for(done, timeout=20)
    assert found is not None
    return str(found)


def tool_answers(text: str) -> dict[str, Any]:
    """The answers Codex got, from the model's ``answer: <tool output>`` reply."""
    output: dict[str, Any] = json.loads(text.removeprefix("answer: "))
    return output


async def test_a_question_shows_its_options_as_buttons(
    harness: BotHarness, slack: SlackFake
) -> None:
    """Codex's question appears in the thread with one button per option, plus "Other…"
    (the server lets the user answer in their own words), and says who may answer."""
    event = await harness.mention("ASK Which colour should the button be?|red|blue")
    message = await prompt(slack, event["ts"])
    assert labels(message) == ["red", "blue", "Other…"]
    shown = str(message["blocks"])
    assert "Which colour should the button be?" in shown
    assert f"<@{USER}> or a configured approver can answer" in shown
    assert message["text"] == "Codex asks: Which colour should the button be?"


async def test_the_starters_click_reaches_codex(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """The turn's starter clicks an option: Codex gets it as the tool's output, the final
    reply carries it, and the prompt shows who answered what, without buttons."""
    event = await harness.mention("ASK Which colour?|red|blue")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "blue", USER))
    follow_up = await model_server.wait_for_request(lambda r: r.tool_output is not None)
    assert json.loads(str(follow_up.tool_output)) == {"answers": {"choice": {"answers": ["blue"]}}}
    text = await answered(slack, event["ts"])
    assert tool_answers(text) == {"answers": {"choice": {"answers": ["blue"]}}}
    await outcome(slack, message, f"<@{USER}> answered *blue*")


async def test_another_users_click_is_refused_privately(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """Someone who neither started the turn nor is an approver is told why not, privately,
    for an option and for "Other…" (no modal opens); Codex hears nothing until the starter
    answers."""
    event = await harness.mention("ASK Ship it?|yes|no")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "yes", OTHER))
    await told(slack, f"Only <@{USER}>", user=OTHER)
    await harness.interact(click(message, "Other…", OTHER))
    await slack.wait_for(lambda: len(private_texts(slack, OTHER)) >= 2, timeout=20)
    assert not slack.views
    assert not any(r.tool_output is not None for r in model_server.requests)
    assert not private_texts(slack, USER)
    await harness.interact(click(message, "no", USER))
    text = await answered(slack, event["ts"])
    assert tool_answers(text) == {"answers": {"choice": {"answers": ["no"]}}}
    await outcome(slack, message, f"<@{USER}> answered *no*")


async def test_an_answer_in_ones_own_words_goes_through_the_modal(
    harness: BotHarness, slack: SlackFake
) -> None:
    """ "Other…" opens a modal (with the click's trigger); its submission is Codex's answer."""
    event = await harness.mention("ASK Which colour?|red|blue")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "Other…", USER))
    view = await slack.wait_for(lambda: next(iter(slack.views.values()), None), timeout=20)
    assert view is not None
    assert view["callback_id"] == render.QUESTION_MODAL
    submission = view_submission_payload(
        render.QUESTION_MODAL,
        {"q0_text": {"text": "  teal, like the logo  "}},
        user=USER,
        private_metadata=view["private_metadata"],
    )
    await harness.interact(submission)
    text = await answered(slack, event["ts"])
    assert tool_answers(text) == {"answers": {"choice": {"answers": ["teal, like the logo"]}}}
    await outcome(slack, message, f"<@{USER}> answered *teal, like the logo*")


async def test_several_questions_are_answered_together_in_the_modal(
    harness: BotHarness, slack: SlackFake
) -> None:
    """Two questions show one "Answer…" button; its modal has a choice per question and a
    text field, and one submission answers both (a choice, and words of one's own)."""
    event = await harness.mention("ASK Which colour?|red|blue ;; When?|now|later")
    message = await prompt(slack, event["ts"])
    assert labels(message) == ["Answer…"]
    assert message["text"] == "Codex has 2 questions"
    await harness.interact(click(message, "Answer…", USER))
    view = await slack.wait_for(lambda: next(iter(slack.views.values()), None), timeout=20)
    assert view is not None
    shown = [(b["block_id"], b["element"]["type"]) for b in view["blocks"]]
    assert shown == [
        ("q0_choice", "radio_buttons"),
        ("q0_text", "plain_text_input"),
        ("q1_choice", "radio_buttons"),
        ("q1_text", "plain_text_input"),
    ]
    submission = view_submission_payload(
        render.QUESTION_MODAL,
        {"q0_text": {"text": ""}, "q1_text": {"text": "after lunch"}},
        user=USER,
        private_metadata=view["private_metadata"],
    )
    # Radio buttons as Slack reports them: the option picked, or none.
    blue = view["blocks"][0]["element"]["options"][1]
    values = submission["view"]["state"]["values"]
    values["q0_choice"] = {"choice": {"type": "radio_buttons", "selected_option": blue}}
    values["q1_choice"] = {"choice": {"type": "radio_buttons", "selected_option": None}}
    await harness.interact(submission)
    text = await answered(slack, event["ts"])
    assert tool_answers(text) == {
        "answers": {"choice": {"answers": ["blue"]}, "choice_2": {"answers": ["after lunch"]}}
    }
    await outcome(slack, message, "Question 1: *blue*; Question 2: *after lunch*")


async def test_an_empty_modal_is_refused_on_the_modal(
    harness: BotHarness, slack: SlackFake
) -> None:
    """A submission with no answer gets Slack's field error (the modal stays open), and the
    question stays open for a real answer."""
    event = await harness.mention("ASK Which colour?|red|blue")
    message = await prompt(slack, event["ts"])
    await harness.interact(click(message, "Other…", USER))
    view = await slack.wait_for(lambda: next(iter(slack.views.values()), None), timeout=20)
    assert view is not None
    empty = view_submission_payload(
        render.QUESTION_MODAL,
        {"q0_text": {"text": "   "}},
        user=USER,
        private_metadata=view["private_metadata"],
    )
    status, body = await harness.interact(empty)
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {"q0_text": "Pick an option or write an answer."},
    }
    await harness.interact(click(message, "red", USER))
    text = await answered(slack, event["ts"])
    assert tool_answers(text) == {"answers": {"choice": {"answers": ["red"]}}}


async def test_the_first_answer_wins_across_replicas(start_bot: StartBot, slack: SlackFake) -> None:
    """The click lands on a replica without the Codex request; the holder answers Codex with
    it, and a later click is told who answered first."""
    holder = await start_bot()
    other = await start_bot()
    event = await holder.mention("ASK Which colour?|red|blue")
    message = await prompt(slack, event["ts"])
    await other.interact(click(message, "red", USER))
    text = await answered(slack, event["ts"])
    assert tool_answers(text) == {"answers": {"choice": {"answers": ["red"]}}}
    await holder.interact(click(message, "blue", USER))
    await told(slack, f"already answered by <@{USER}>")
    await outcome(slack, message, f"<@{USER}> answered *red*")


async def test_stopping_the_turn_expires_its_question(
    harness: BotHarness, slack: SlackFake
) -> None:
    """`@bot stop` while a question waits ends the turn; the prompt says it expired, and a
    late click is told so."""
    event = await harness.mention("ASK Which colour?|red|blue")
    message = await prompt(slack, event["ts"])
    await harness.mention("stop", thread_ts=event["ts"])
    await outcome(slack, message, "the turn ended")
    await harness.interact(click(message, "red", USER))
    await told(slack, "This question expired")


async def test_the_question_expires_when_the_codex_connection_drops(
    harness: BotHarness, slack: SlackFake, codex_server: CodexServer
) -> None:
    """If the app-server connection holding the question drops, the prompt says it expired."""
    event = await harness.mention("ASK Which colour?|red|blue")
    message = await prompt(slack, event["ts"])
    await codex_server.kill()
    await outcome(slack, message, "expired")
    await harness.interact(click(message, "Other…", USER))
    await told(slack, "This question expired")
    assert not slack.views


async def test_an_mcp_elicitation_is_declined_with_a_line_in_the_thread(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """An MCP server's request for input (``mcpServer/elicitation/request``, which the server
    passes on under an approval policy other than ``never``) is declined, and the thread is
    told so; Codex goes on."""
    harness = await start_bot(codex_channel_policies={CHANNEL: {"approval_policy": "on-request"}})
    event = await harness.mention("CALL mcp__fake.confirm")

    def line() -> str | None:
        texts = [str(m.get("text", "")) for m in slack.messages(CHANNEL, thread_ts=event["ts"])]
        return next((t for t in texts if "can't be given from Slack" in t), None)

    said = await slack.wait_for(line, timeout=20)
    assert "`fake`" in str(said)
    assert ELICITATION_MESSAGE in str(said)
    follow_up = await model_server.wait_for_request(lambda r: r.tool_output is not None)
    assert "elicitation: " in str(follow_up.tool_output)
    assert "decline" in str(follow_up.tool_output)

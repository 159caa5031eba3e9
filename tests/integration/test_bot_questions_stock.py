"""Codex's questions reach Slack from a stock app-server: the bot turns them on per thread.

The suite's default app-server has no ``default_mode_request_user_input`` in its config.toml;
Codex 0.171 then answers ``request_user_input`` itself ("unavailable in Default mode") unless
the thread was started with the flag, which the bot does (CODEX_QUESTIONS, default on).
"""

from __future__ import annotations

import json

from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from tests.integration.bot_harness import USER
from tests.integration.conftest import StartBot
from tests.integration.test_bot_approvals import click
from tests.integration.test_bot_questions import answered, labels, prompt


async def test_a_stock_server_asks_through_the_bot(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    harness = await start_bot()
    event = await harness.mention("ASK Which database?|Postgres|SQLite")
    question = await prompt(slack, event["ts"])
    assert labels(question)[:2] == ["Postgres", "SQLite"]
    await harness.interact(click(question, "SQLite", USER))
    follow_up = await model_server.wait_for_request(lambda r: r.tool_output is not None)
    assert json.loads(str(follow_up.tool_output))["answers"]
    assert "SQLite" in await answered(slack, event["ts"])


async def test_with_questions_off_codex_does_not_ask(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """CODEX_QUESTIONS=false leaves the server's default: Codex answers the tool call itself
    and no prompt is posted."""
    harness = await start_bot(codex_questions=False)
    event = await harness.mention("ASK Which database?|Postgres|SQLite")
    follow_up = await model_server.wait_for_request(lambda r: r.tool_output is not None)
    assert "unavailable" in str(follow_up.tool_output)
    await answered(slack, event["ts"])
    assert not [m for m in slack.messages("C0001", thread_ts=event["ts"]) if labels(m)]

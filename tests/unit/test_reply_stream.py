"""A reply stream spends chat.update calls only on frames that change what the thread shows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.streaming import ReplyStream
from playground.slack.api import SlackFake

CHANNEL = "C0001"
THREAD_TS = "1732540000.000100"


class GrantingBudget:
    """A budget that always lets the edit go now (the pacing is tested in test_ratelimit)."""

    def __init__(self) -> None:
        self.asks = 0

    async def acquire(self, team: str, stream_id: str, *, final: bool) -> float:
        self.asks += 1
        return 0.0

    async def block_until(self, team: str, retry_after: float) -> object:
        return None

    async def release(self, team: str, stream_id: str) -> None:
        return None


@pytest.fixture
async def slack() -> AsyncIterator[SlackFake]:
    async with SlackFake() as fake:
        yield fake


@pytest.fixture
async def client(slack: SlackFake) -> AsyncIterator[AsyncWebClient]:
    web = AsyncWebClient(token="xoxb-unit", base_url=slack.url)
    yield web
    if web.session is not None:
        await web.session.close()


async def placeholder_stream(client: AsyncWebClient, budget: GrantingBudget) -> ReplyStream:
    """Post the bridge's placeholder (Thinking, with Stop) and a stream that edits it."""
    blocks = render.reply_blocks(render.THINKING, stop_value="stop-1")
    posted = await client.chat_postMessage(
        channel=CHANNEL, thread_ts=THREAD_TS, text=render.THINKING, blocks=blocks
    )
    return ReplyStream(
        slack=client,
        budget=budget,
        team="T0001",
        channel=CHANNEL,
        thread_ts=THREAD_TS,
        first_ts=str(posted["ts"]),
        stream_id="s1",
        stop_value="stop-1",
    )


def shown(slack: SlackFake) -> list[str]:
    """The markdown text of every chat.update sent, in order."""
    return [
        "".join(b["text"] for b in call["params"]["blocks"] if b["type"] == "markdown")
        for call in slack.calls_for("chat.update")
    ]


async def _yield_to_the_edit_task() -> None:
    # Lets the stream's background task look at the state it was woken for; no time passes.
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_item_starting_before_any_text_does_not_resend_the_placeholder(
    slack: SlackFake, client: AsyncWebClient
) -> None:
    """A wake-up with nothing new to show (Codex's userMessage item) costs no edit or token."""
    budget = GrantingBudget()
    stream = await placeholder_stream(client, budget)
    stream.start()
    stream.set_activity(None)
    await _yield_to_the_edit_task()
    assert budget.asks == 0
    stream.add_delta("m1", "Hello")
    await stream.finish("Hello, world")
    assert render.THINKING not in shown(slack)
    assert shown(slack)[-1] == "Hello, world"


async def test_an_activity_line_before_any_text_is_shown(
    slack: SlackFake, client: AsyncWebClient
) -> None:
    """A tool starting before the agent writes anything is shown in place of the placeholder."""
    stream = await placeholder_stream(client, GrantingBudget())
    stream.start()
    stream.set_activity("running `pytest`")
    await slack.wait_for(lambda: slack.calls_for("chat.update"))
    await stream.finish("done")
    assert shown(slack) == ["_running `pytest`_", "done"]

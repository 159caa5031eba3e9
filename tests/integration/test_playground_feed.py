"""The playground's feed follows the Slack emulator as Slack's client would show it: the bot's
Web API calls, and its ``response_url`` posts applied to the ephemeral message or place they
answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from playground.feed import Event, Feed, ResponseTarget
from playground.slack.api import SlackFake

CHANNEL = "C0001"
USER = "U0001"


@pytest.fixture
async def feed() -> AsyncIterator[Feed]:
    async with SlackFake() as slack:
        yield Feed(slack, {"channels": [{"id": CHANNEL}]})


@pytest.fixture
async def bot(feed: Feed) -> AsyncIterator[AsyncWebClient]:
    client = AsyncWebClient(token="xoxb-bot", base_url=feed.slack.url)
    yield client
    if client.session is not None:
        await client.session.close()


def drain(queue: asyncio.Queue[Event | None]) -> list[Event]:
    events = []
    while not queue.empty():
        event = queue.get_nowait()
        assert event is not None
        events.append(event)
    return events


async def respond(url: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        assert response.status == 200


async def test_a_page_gets_a_snapshot_then_the_bots_messages_and_thread_status(
    feed: Feed, bot: AsyncWebClient
) -> None:
    parent = feed.slack.add_message(CHANNEL, "<@U0BOT0001> hi", user=USER)
    page = feed.subscribe()
    assert page.get_nowait() == feed.snapshot()
    await bot.assistant_threads_setStatus(
        channel_id=CHANNEL, thread_ts=parent["ts"], status="is thinking…"
    )
    posted = await bot.chat_postMessage(channel=CHANNEL, thread_ts=parent["ts"], text="hello")

    events = drain(page)
    kinds = [(e["type"], e.get("status")) for e in events if e["type"] != "call"]
    assert kinds == [
        ("status", "is thinking…"),
        ("message", None),
        ("message", None),
        ("status", ""),
    ]
    reply, updated_parent = (e["message"] for e in events if e["type"] == "message")
    assert (reply["ts"], reply["text"]) == (posted["ts"], "hello")
    assert updated_parent["reply_count"] == 1
    assert [e["method"] for e in events if e["type"] == "call"] == [
        "assistant.threads.setStatus",
        "chat.postMessage",
    ]


async def test_response_url_posts_land_where_slacks_client_shows_them(
    feed: Feed, bot: AsyncWebClient
) -> None:
    thread = feed.slack.add_message(CHANNEL, "question", user=USER)["ts"]
    await bot.chat_postEphemeral(channel=CHANNEL, user=USER, thread_ts=thread, text="page 1")
    (ephemeral_id,) = feed.ephemerals
    assert feed.ephemerals[ephemeral_id]["thread_ts"] == thread

    clicked = ResponseTarget(USER, CHANNEL, thread, ephemeral_id=ephemeral_id)
    await respond(feed.response_url(clicked), {"replace_original": True, "text": "page 2"})
    assert [e["text"] for e in feed.ephemerals.values()] == ["page 2"]

    typed = ResponseTarget(USER, CHANNEL, None)
    await respond(feed.response_url(typed), {"response_type": "ephemeral", "text": "told you"})
    told = [e for e in feed.ephemerals.values() if e["text"] == "told you"]
    assert [(e["user"], e["thread_ts"]) for e in told] == [(USER, None)]

    await respond(feed.response_url(clicked), {"delete_original": True})
    assert ephemeral_id not in feed.ephemerals

    await respond(feed.response_url(typed), {"response_type": "in_channel", "text": "for all"})
    assert feed.slack.messages(CHANNEL)[-1]["text"] == "for all"


async def test_a_modal_opens_for_whoever_sent_its_trigger(feed: Feed, bot: AsyncWebClient) -> None:
    feed.trigger("trigger-1", USER)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Steer Codex"}, "blocks": []}
    opened = await bot.views_open(trigger_id="trigger-1", view=view)
    shown = feed.views[opened["view"]["id"]]
    assert shown["user"] == USER
    assert shown["view"]["title"]["text"] == "Steer Codex"

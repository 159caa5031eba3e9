"""Two bot replicas sharing one Redis: no duplicate turn, no lost mention."""

from __future__ import annotations

import pytest

from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from tests.integration.bot_harness import BotHarness, bot_replies, final_reply
from tests.integration.conftest import StartBot


@pytest.fixture
async def replicas(start_bot: StartBot) -> tuple[BotHarness, BotHarness]:
    """Two bots on the same Redis, Slack and app-server, as two pods of one Deployment."""
    return await start_bot(), await start_bot()


async def test_one_event_delivered_to_both_replicas_runs_one_turn(
    replicas: tuple[BotHarness, BotHarness], slack: SlackFake, model_server: ModelServer
) -> None:
    """The same event reaching two replicas (a retry after a timeout) is answered once."""
    first, second = replicas
    event = await first.mention("just once please")
    await second.mention(
        "just once please", event_id=event["event_id"], retry_num=1, ts=event["ts"]
    )
    await final_reply(slack, event["ts"], "echo: just once please")
    assert [r.last_user_text for r in model_server.requests].count("just once please") == 1
    assert len([m for m in bot_replies(slack, event["ts"]) if m.get("blocks")]) == 1


async def test_a_mention_on_another_replica_waits_for_the_running_turn(
    replicas: tuple[BotHarness, BotHarness], slack: SlackFake, model_server: ModelServer
) -> None:
    """While replica A runs a turn, a follow-up via replica B is queued, then answered in order."""
    first, second = replicas
    event = await first.mention("HOLD on replica one")
    await model_server.wait_for_hold()
    await second.mention("follow-up on replica two", thread_ts=event["ts"])
    await slack.wait_for(
        lambda: any(
            "queued" in str(m.get("text", "")).lower() for m in bot_replies(slack, event["ts"])
        ),
        timeout=10,
    )
    model_server.release()
    await final_reply(slack, event["ts"], "held then releasedecho: follow-up on replica two")
    prompts = [r.last_user_text for r in model_server.requests]
    assert prompts.index("follow-up on replica two") > prompts.index("HOLD on replica one")

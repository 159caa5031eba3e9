"""Fixtures of the bot's end-to-end tests: the Slack fake and bots started against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.fakes.codex_server import CodexServer
from tests.fakes.model_server import ModelServer
from tests.fakes.slack_api import SlackFake
from tests.integration.bot_harness import BotHarness, bot_settings

StartBot = Callable[..., Awaitable[BotHarness]]


@pytest.fixture
async def slack() -> AsyncIterator[SlackFake]:
    """The recording Slack Web API and Socket Mode fake on 127.0.0.1, port 0."""
    async with SlackFake() as fake:
        yield fake


@pytest.fixture
async def start_bot(
    slack: SlackFake, codex_server: CodexServer, model_server: ModelServer, redis_url: str
) -> AsyncIterator[StartBot]:
    """Starts a bot (a replica) with extra settings; every bot started is closed at the end."""
    bots: list[BotHarness] = []

    async def start(**extra: Any) -> BotHarness:
        settings = bot_settings(slack, codex_server, redis_url, **extra)
        bot = BotHarness(slack, codex_server, model_server, redis_url, settings)
        await bot.start()
        bots.append(bot)
        return bot

    yield start
    model_server.release()  # a held turn must not keep a closing bot waiting
    for bot in bots:
        await bot.close()


@pytest.fixture
async def harness(start_bot: StartBot) -> BotHarness:
    """One bot with the default test settings."""
    return await start_bot()

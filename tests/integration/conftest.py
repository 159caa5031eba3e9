"""Fixtures of the bot's end-to-end tests: the Slack fake and bots started against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import BotHarness, bot_settings
from tests.integration.bot_process import BotProcess, bot_process_env

StartBot = Callable[..., Awaitable[BotHarness]]
StartBotProcess = Callable[..., Awaitable[BotProcess]]


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


@pytest.fixture
async def start_bot_process(
    slack: SlackFake,
    codex_server: CodexServer,
    model_server: ModelServer,
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[StartBotProcess]:
    """Starts the bot as a child process (a replica) with extra settings (see
    :func:`bot_process_env`); logs go to ``tmp_path/bots/``; any left running are killed."""
    bots: list[BotProcess] = []

    async def start(**extra: Any) -> BotProcess:
        env = bot_process_env(slack, codex_server, redis_url, **extra)
        bot = BotProcess(slack, env, tmp_path / "bots" / f"bot-{len(bots) + 1}.log")
        bots.append(bot)
        await bot.start()
        return bot

    yield start
    model_server.release()
    for bot in bots:
        await bot.close()

"""The bot as a child process: it answers end to end, dies by signal, and comes back."""

from __future__ import annotations

import asyncio
import signal

from playground.slack.api import SlackFake
from tests.integration.bot_harness import final_reply
from tests.integration.conftest import StartBotProcess


async def test_a_bot_process_answers_dies_by_sigkill_and_restarts(
    start_bot_process: StartBotProcess, slack: SlackFake
) -> None:
    """A mention gets the exact final text; SIGKILL ends the process with -9; a restarted
    process on the same port answers again."""
    bot = await start_bot_process()
    first = await bot.mention("hello there")
    await final_reply(slack, first["ts"], "echo: hello there")
    bot.kill()
    assert await bot.wait() == -signal.SIGKILL
    assert not bot.running
    await bot.restart()
    second = await bot.mention("again")
    await final_reply(slack, second["ts"], "echo: again")
    assert bot.starts == 2
    assert "--- start #2" in bot.log_text()


async def test_replica_processes_share_the_peers(
    start_bot_process: StartBotProcess, slack: SlackFake
) -> None:
    """Two processes against one Slack fake, app-server and Redis each answer their mention."""
    one, two = await asyncio.gather(start_bot_process(), start_bot_process())
    assert one.port != two.port
    a = await one.mention("from one")
    b = await two.mention("from two")
    await final_reply(slack, a["ts"], "echo: from one")
    await final_reply(slack, b["ts"], "echo: from two")

"""End to end: what a turn changed comes back into its thread as a ``.diff`` file.

The scripted model behind the real app-server 0.171 cannot change files through Codex's patch
tool (its fallback model metadata offers no ``apply_patch``), so these turns come from the
app-server double (:class:`codex_client.testing.FakeAppServer`), which sends
``turn/diff/updated`` as the real server does; Slack is the fake, with its upload flow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from bot.diffs import changed_paths, summary
from codex_client.testing import FakeAppServer
from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from tests.integration.bot_harness import BotHarness, bot_replies, bot_settings, final_reply

DIFF = """diff --git a/app/main.py b/app/main.py
--- a/app/main.py
+++ b/app/main.py
@@ -1 +1 @@
-print("helo")
+print("hello")
diff --git a/README.md b/README.md
new file mode 100644
--- /dev/null
+++ b/README.md
@@ -0,0 +1 @@
+# app
"""


@pytest.fixture
async def codex() -> AsyncIterator[FakeAppServer]:
    async with FakeAppServer() as server:
        server.diff = lambda prompt: DIFF if "fix" in prompt else None
        yield server


@pytest.fixture
async def start(
    slack: SlackFake, codex: FakeAppServer, model_server: ModelServer, redis_url: str
) -> AsyncIterator[Any]:
    bots: list[BotHarness] = []

    async def start_bot(**extra: Any) -> BotHarness:
        settings = bot_settings(slack, cast(Any, codex), redis_url, **extra)
        bot = BotHarness(slack, cast(Any, codex), model_server, redis_url, settings)
        await bot.start()
        bots.append(bot)
        return bot

    yield start_bot
    for bot in bots:
        await bot.close()


def shared(slack: SlackFake, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in bot_replies(slack, thread_ts) if m.get("files")]


async def test_a_turn_that_changed_files_attaches_its_diff(start: Any, slack: SlackFake) -> None:
    """After the exact final answer, one message names the changed files and carries the
    turn's diff as a .diff file with exactly that change."""
    harness = await start()
    event = await harness.mention("fix the typo")
    await final_reply(slack, event["ts"], "echo: fix the typo")
    message = await slack.wait_for(lambda: next(iter(shared(slack, event["ts"])), {}))
    assert message["text"] == "Changed `app/main.py`, `README.md`."
    upload = slack.uploads[-1]
    assert upload["content"] == DIFF.encode()
    assert upload["filename"].endswith(".diff")
    assert upload["thread_ts"] == event["ts"]


async def test_a_turn_that_changed_nothing_attaches_nothing(start: Any, slack: SlackFake) -> None:
    harness = await start()
    event = await harness.mention("just answer")
    await final_reply(slack, event["ts"], "echo: just answer")
    other = await harness.mention("fix it")  # a later event: the first turn's end is past
    await final_reply(slack, other["ts"], "echo: fix it")
    await slack.wait_for(lambda: shared(slack, other["ts"]))
    assert not shared(slack, event["ts"])


async def test_a_diff_over_the_limit_is_named_not_attached(start: Any, slack: SlackFake) -> None:
    harness = await start(diff_max_bytes=100)
    event = await harness.mention("fix everything")
    await final_reply(slack, event["ts"], "echo: fix everything")
    line = await slack.wait_for(
        lambda: next(
            (
                str(m["text"])
                for m in bot_replies(slack, event["ts"])
                if "over the" in str(m.get("text"))
            ),
            "",
        )
    )
    assert line.startswith("Changed `app/main.py`, `README.md`. The diff")
    assert not slack.uploads


async def test_without_files_write_the_thread_is_told(start: Any, slack: SlackFake) -> None:
    slack.scopes = tuple(s for s in slack.scopes if s != "files:write")
    harness = await start()
    event = await harness.mention("fix the typo")
    line = await slack.wait_for(
        lambda: next(
            (
                str(m["text"])
                for m in bot_replies(slack, event["ts"])
                if "files:write" in str(m.get("text"))
            ),
            "",
        )
    )
    assert line.startswith("Changed `app/main.py`")


def test_changed_paths_reads_git_and_plain_unified_diffs() -> None:
    assert changed_paths(DIFF) == ["app/main.py", "README.md"]
    assert changed_paths("--- a/x\n+++ b/x\n@@\n") == ["x"]
    many = [f"f{n}.py" for n in range(20)]
    assert summary(many).endswith("and 5 more files.")

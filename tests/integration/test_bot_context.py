"""End to end: Codex reads the Slack thread it is called into, as a teammate would.

Real Redis, the real app-server with the scripted model (whose requests show what Codex was
given), the Slack fake holding the thread's earlier messages.
"""

from __future__ import annotations

from pathlib import Path

from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from tests.integration.bot_harness import CHANNEL, final_reply
from tests.integration.conftest import StartBot

ALICE, BOB = "U0002", "U0003"


async def _answered(slack: SlackFake, model: ModelServer, thread_ts: str, ask: str) -> str:
    """Wait for the turn asking ``ask`` to end; the user text Codex sent the model."""
    request = await model.wait_for_request(lambda r: r.last_user_text.endswith(ask))
    await final_reply(slack, thread_ts, f"echo: {request.last_user_text}")
    return request.last_user_text


async def test_a_mention_in_a_discussion_carries_the_thread_in_order(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """Mentioned at the end of a discussion, the bot sends Codex the earlier messages, oldest
    first, with their authors' names (ids made readable) and attached files named; the bot's
    own messages are left out."""
    harness = await start_bot()
    parent = slack.add_message(CHANNEL, "the build fails on arm64", user=ALICE)
    slack.add_message(
        CHANNEL, f"<@{ALICE}> I think it's the linker", user=BOB, thread_ts=parent["ts"]
    )
    slack.add_message(CHANNEL, "an old bot notice", user=slack.bot_user_id, thread_ts=parent["ts"])
    event = await harness.mention("fix what we discussed above", thread_ts=parent["ts"])
    text = await _answered(slack, model_server, parent["ts"], "fix what we discussed above")

    assert text.startswith("Earlier in this Slack thread:\n")
    alice = text.index("[user-u0002, ")
    bob = text.index("[user-u0003, ")
    assert alice < bob < text.index("fix what we discussed above")
    assert "] the build fails on arm64" in text
    assert "] @user-u0002 I think it's the linker" in text
    assert "an old bot notice" not in text
    assert event["thread_ts"] == parent["ts"]


async def test_a_later_turn_carries_only_what_was_said_since(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """After a turn, teammates reply without mentioning the bot; the next mention adds just
    those messages, not the ones Codex already read."""
    harness = await start_bot()
    parent = slack.add_message(CHANNEL, "flaky test in ci", user=ALICE)
    await harness.mention("have a look", thread_ts=parent["ts"])
    first = await _answered(slack, model_server, parent["ts"], "have a look")
    assert "flaky test in ci" in first

    slack.add_message(CHANNEL, "it only fails on mondays", user=BOB, thread_ts=parent["ts"])
    await harness.mention("and now?", thread_ts=parent["ts"])
    request = await model_server.wait_for_request(lambda r: r.last_user_text.endswith("and now?"))
    second = request.last_user_text
    assert "it only fails on mondays" in second
    assert "flaky test in ci" not in second
    assert "have a look" not in second, "a mention is a turn of its own, not context"


async def test_a_new_top_level_mention_reads_nothing_more(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """A mention that starts a thread has no earlier messages: the turn is the mention alone
    (and the bot asks Slack for no thread history)."""
    harness = await start_bot()
    event = await harness.mention("just this")
    await final_reply(slack, event["ts"], "echo: just this")
    assert not slack.calls_for("conversations.replies")


async def test_a_long_thread_keeps_its_newest_messages(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """Past THREAD_CONTEXT_CHARS the oldest messages give way, and Codex is told how many."""
    harness = await start_bot(thread_context_chars=400)
    parent = slack.add_message(CHANNEL, "message 0", user=ALICE)
    for n in range(1, 20):
        slack.add_message(CHANNEL, f"message {n}", user=BOB, thread_ts=parent["ts"])
    await harness.mention("summarize", thread_ts=parent["ts"])
    request = await model_server.wait_for_request(lambda r: r.last_user_text.endswith("summarize"))
    text = request.last_user_text
    assert "message 19" in text
    assert "] message 0" not in text
    assert "earlier messages left out)" in text
    assert len(text) <= 400 + len("\n\nsummarize")


async def test_each_channel_works_in_its_own_project(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer, tmp_path: Path
) -> None:
    """CODEX_CHANNEL_POLICIES gives #frontend and #infra their own working directories:
    Codex runs each channel's turns in its own (its environment context names it)."""
    frontend, infra = tmp_path / "frontend", tmp_path / "infra"
    frontend.mkdir()
    infra.mkdir()
    policies = {"C0001": {"cwd": str(frontend)}, "C0002": {"cwd": str(infra)}}
    harness = await start_bot(codex_channel_policies=policies)
    one = await harness.mention("where am I one", channel="C0001")
    two = await harness.mention("where am I two", channel="C0002")
    first = await model_server.wait_for_request(lambda r: r.last_user_text == "where am I one")
    second = await model_server.wait_for_request(lambda r: r.last_user_text == "where am I two")
    assert f"<cwd>{frontend}</cwd>" in first.user_texts[0]
    assert f"<cwd>{infra}</cwd>" in second.user_texts[0]
    assert one["channel"] != two["channel"]

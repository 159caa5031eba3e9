"""End to end: /steer, /recap, Stop and their in-thread forms, and the allowlists.

Real Redis, the real Codex app-server with the scripted model, the Slack Web API fake, and
signed HTTP requests to the bot, as in :mod:`tests.integration.test_bot_mentions`.
"""

from __future__ import annotations

import re
from typing import Any

from bot import render
from bot.mentions import Mention, client_message_id
from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from playground.slack.payloads import (
    TEAM_DOMAIN,
    block_actions_payload,
    message_action_payload,
    view_submission_payload,
)
from tests.integration.bot_harness import (
    CHANNEL,
    TEAM,
    USER,
    BotHarness,
    final_reply,
    has_stop_button,
    reply_text,
)
from tests.integration.conftest import StartBot

OTHER = "U0002"


def permalink(ts: str, *, thread_ts: str | None = None) -> str:
    link = f"https://{TEAM_DOMAIN}.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&cid={CHANNEL}" if thread_ts else link


def private_texts(slack: SlackFake, user: str = USER) -> list[str]:
    """Everything said to ``user`` alone: response_url answers and ephemeral messages."""
    posted = [p.get("text", "") for posts in slack.response_posts.values() for p in posts]
    ephemeral = [e.get("text", "") for e in slack.ephemerals if e.get("user") == user]
    return [str(t) for t in [*posted, *ephemeral]]


async def told(slack: SlackFake, fragment: str, user: str = USER) -> str:
    """Wait until ``user`` was privately told something containing ``fragment``."""
    found = await slack.wait_for(
        lambda: next((t for t in private_texts(slack, user) if fragment in t), None), timeout=20
    )
    return str(found)


async def running(slack: SlackFake, thread_ts: str) -> dict[str, Any]:
    """Wait until the thread's reply shows the held turn's first words, which the bot edits in
    only after it recorded the turn as running (so steer and stop can find it)."""
    found = await slack.wait_for(
        lambda: next(
            (m for m in slack.messages(CHANNEL, thread_ts=thread_ts) if "held" in reply_text(m)),
            None,
        ),
        timeout=20,
    )
    assert found is not None
    return found


async def test_slash_steer_with_a_permalink_reaches_the_running_turn(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """/steer <permalink> <guidance> from the channel steers that thread's turn mid-flight."""
    event = await harness.mention("HOLD a long job")
    await running(slack, event["ts"])
    await harness.slash_command("/steer", f"{permalink(event['ts'])} also mention bananas")
    steered = await model_server.wait_for_request(
        lambda r: r.last_user_text == "also mention bananas"
    )
    assert "HOLD a long job" in steered.user_texts
    await told(slack, "Steered the running turn")
    await final_reply(slack, event["ts"], "echo: also mention bananas")


async def test_in_thread_steer_mention_reaches_the_running_turn(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """`@bot steer <guidance>` in the thread steers its running turn and starts no new turn."""
    event = await harness.mention("HOLD another job")
    await running(slack, event["ts"])
    await harness.mention("steer use kiwis instead", thread_ts=event["ts"])
    await model_server.wait_for_request(lambda r: r.last_user_text == "use kiwis instead")
    await told(slack, "Steered the running turn")
    replies = await final_reply(slack, event["ts"], "echo: use kiwis instead")
    assert len(replies) == 1


async def test_steer_survives_a_stale_turn_id_in_redis(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """When Redis names another turn than the running one, the steer retries with Codex's."""
    event = await harness.mention("HOLD a raced job")
    reply = await running(slack, event["ts"])
    assert harness.service is not None
    store = harness.service.store
    record = await store.get_thread(TEAM, CHANNEL, event["ts"])
    assert record is not None
    await store.set_active_turn(record.codex_thread_id, "a-turn-that-ended", USER, reply["ts"])
    await harness.slash_command("/steer", f"{permalink(event['ts'])} raced guidance")
    await model_server.wait_for_request(lambda r: r.last_user_text == "raced guidance")
    await told(slack, "Steered the running turn")


async def test_steer_shortcut_opens_a_modal_whose_submission_steers(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """The "Steer Codex" message shortcut opens a modal; submitting it steers the turn."""
    event = await harness.mention("HOLD a modal job")
    await running(slack, event["ts"])
    await harness.interact(
        message_action_payload("steer_codex", user=USER, channel=CHANNEL, message_ts=event["ts"])
    )
    view = await slack.wait_for(lambda: next(iter(slack.views.values()), None))
    assert view is not None
    assert view["callback_id"] == "steer_codex_modal"
    submission = view_submission_payload(
        "steer_codex_modal",
        {"steer_guidance": {"text": "guidance from the modal"}},
        user=USER,
        private_metadata=view["private_metadata"],
    )
    await harness.interact(submission)
    await model_server.wait_for_request(lambda r: r.last_user_text == "guidance from the modal")
    await final_reply(slack, event["ts"], "echo: guidance from the modal")


async def test_steer_with_no_running_turn_says_how_to_start_one(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """/steer when nothing runs tells the user so, and how to start a turn; Codex gets nothing."""
    event = await harness.mention("quick one")
    await final_reply(slack, event["ts"], "echo: quick one")
    await harness.slash_command("/steer", "please hurry")
    text = await told(slack, "no running Codex turn")
    assert f"<@{slack.bot_user_id}>" in text
    assert all(r.last_user_text != "please hurry" for r in model_server.requests)


async def test_recap_pages_back_to_the_first_turn_without_gap_or_duplicate(
    harness: BotHarness, slack: SlackFake
) -> None:
    """/recap on a 12-turn thread shows 5, then Older twice reaches turn 1; Share posts it."""
    event = await harness.mention("turn 0")
    await final_reply(slack, event["ts"], "echo: turn 0")
    assert harness.service is not None
    record = await harness.service.store.get_thread(TEAM, CHANNEL, event["ts"])
    assert record is not None
    codex_thread = harness.service.pool.thread(record.codex_thread_id)
    for i in range(1, 12):
        # Straight through Codex: the recap reads Codex's history, not Slack's.
        asker = Mention(TEAM, CHANNEL, event["ts"], f"{i}.000001", f"U{i:04d}", f"turn {i}")
        turn = await codex_thread.start_turn(
            f"turn {i}", clientUserMessageId=client_message_id(asker)
        )
        assert (await turn.wait()).status == "completed"

    await harness.slash_command("/recap", f"{permalink(event['ts'])} 5")
    pages = [await _recap_page(slack, 0)]
    while (older := _button(pages[-1], render.ACTION_RECAP_OLDER)) is not None:
        url = slack.response_url()
        await harness.interact(_click(render.ACTION_RECAP_OLDER, older, response_url=url))
        pages.append(await _recap_page(slack, len(pages), url=url))

    asked = [_asked(page) for page in pages]
    assert [len(a) for a in asked] == [5, 5, 2]
    assert [prompt for page in asked for _, prompt in page] == [
        f"turn {i}" for i in range(11, -1, -1)
    ]
    assert asked[0][0] == ("U0011", "turn 11")
    assert asked[-1][-1] == (USER, "turn 0")  # the first turn: asked by the thread's starter
    assert "first turn" in str(pages[-1])

    share = _button(pages[-1], render.ACTION_RECAP_SHARE)
    assert share is not None
    await harness.interact(_click(render.ACTION_RECAP_SHARE, share))
    shared = await slack.wait_for(
        lambda: next(
            (
                m
                for m in slack.messages(CHANNEL, thread_ts=event["ts"])
                if "Shared by" in str(m.get("blocks"))
            ),
            None,
        )
    )
    assert shared is not None
    assert "turn 1" in str(shared["blocks"])


async def test_in_thread_recap_and_the_recap_shortcut_answer_in_the_thread(
    harness: BotHarness, slack: SlackFake
) -> None:
    """`@bot recap 1` and the "Recap thread" shortcut show a recap to the requester, in thread."""
    event = await harness.mention("first question")
    await final_reply(slack, event["ts"], "echo: first question")
    await harness.mention("recap 1", thread_ts=event["ts"])
    await harness.interact(
        message_action_payload("recap_thread", user=OTHER, channel=CHANNEL, message_ts=event["ts"])
    )

    def recaps() -> list[dict[str, Any]]:
        return [e for e in slack.ephemerals if e.get("blocks") and e["thread_ts"] == event["ts"]]

    await slack.wait_for(lambda: len(recaps()) == 2, timeout=20)
    assert {e["user"] for e in recaps()} == {USER, OTHER}
    for recap in recaps():
        assert _asked(recap) == [(USER, "first question")]
    assert len([m for m in slack.messages(CHANNEL, thread_ts=event["ts"]) if m.get("blocks")]) == 1


async def test_stop_button_interrupts_the_turn_and_names_who_stopped_it(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """The reply's Stop button interrupts the turn; the reply then says who stopped it."""
    event = await harness.mention("HOLD until stopped")
    reply = await running(slack, event["ts"])
    assert has_stop_button(reply)
    stop = block_actions_payload(
        action_id=render.ACTION_STOP,
        value=f"{TEAM}:{CHANNEL}:{event['ts']}",
        user=OTHER,
        channel=CHANNEL,
        message_ts=reply["ts"],
        thread_ts=event["ts"],
    )
    await harness.interact(stop)
    await slack.wait_for(
        lambda: (
            f"Stopped by <@{OTHER}>" in reply_text(_latest(slack, reply["ts"]))
            and not has_stop_button(_latest(slack, reply["ts"]))
        ),
        timeout=20,
    )


async def test_in_thread_stop_mention_interrupts_the_turn(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """`@bot stop` in the thread interrupts its running turn and is named in the reply."""
    event = await harness.mention("HOLD until told to stop")
    await running(slack, event["ts"])
    await harness.mention("stop", thread_ts=event["ts"])
    await final_reply(slack, event["ts"], f"_⏹️ Stopped by <@{USER}>._")


async def test_a_user_outside_the_steer_allowlist_is_refused(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """A user not on ALLOW_STEER_USERS is told so privately; their guidance never reaches Codex."""
    harness = await start_bot(allow_steer_users=[USER])
    event = await harness.mention("HOLD guarded job")
    await running(slack, event["ts"])
    await harness.slash_command("/steer", f"{permalink(event['ts'])} sneaky", user=OTHER)
    await told(slack, "not on the list of people who may steer", user=OTHER)
    await harness.slash_command("/steer", f"{permalink(event['ts'])} allowed one")
    await model_server.wait_for_request(lambda r: r.last_user_text == "allowed one")
    assert all(r.last_user_text != "sneaky" for r in model_server.requests)


async def test_a_user_outside_the_mention_allowlist_starts_no_turn(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer
) -> None:
    """A mention by a user not on ALLOW_MENTION_USERS gets a private refusal and no turn."""
    harness = await start_bot(allow_mention_users=[USER])
    await harness.mention("let me in", user=OTHER)
    await told(slack, "may start Codex turns", user=OTHER)
    event = await harness.mention("me instead")
    await final_reply(slack, event["ts"], "echo: me instead")
    assert all("let me in" not in r.user_texts for r in model_server.requests)


ELSEWHERE = "C0OTHER"
"""A channel the turn's thread is not in (a private channel's turn must not be reachable)."""


async def test_a_stop_click_from_another_channel_or_team_stops_nothing(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """A signed Stop click whose value names this thread but comes from another channel, or
    another team, is refused privately and stops nothing; the real button still works."""
    event = await harness.mention("HOLD a private job")
    reply = await running(slack, event["ts"])
    value = f"{TEAM}:{CHANNEL}:{event['ts']}"
    for team, channel in ((TEAM, ELSEWHERE), ("T0OTHER", CHANNEL)):
        forged = block_actions_payload(
            action_id=render.ACTION_STOP,
            value=value,
            user=OTHER,
            channel=channel,
            message_ts=slack.next_ts(),
            team_id=team,
        )
        status, _ = await harness.interact(forged)
        assert status == 200

    def refusals() -> list[dict[str, Any]]:
        return [
            e
            for e in slack.ephemerals
            if e.get("user") == OTHER and "another channel or workspace" in str(e.get("text"))
        ]

    await slack.wait_for(lambda: len(refusals()) == 2, timeout=20)
    assert sorted(e["channel"] for e in refusals()) == sorted([ELSEWHERE, CHANNEL])
    # Both clicks were answered, and neither stopped the turn: it still shows its Stop button.
    assert has_stop_button(_latest(slack, reply["ts"]))
    assert harness.service is not None
    record = await harness.service.store.get_thread(TEAM, CHANNEL, event["ts"])
    assert record is not None
    assert await harness.service.store.get_active_turn(record.codex_thread_id) is not None

    genuine = block_actions_payload(
        action_id=render.ACTION_STOP,
        value=value,
        user=USER,
        channel=CHANNEL,
        message_ts=reply["ts"],
        thread_ts=event["ts"],
    )
    await harness.interact(genuine)
    await final_reply(slack, event["ts"], f"_⏹️ Stopped by <@{USER}>._")


async def test_a_recap_button_click_from_another_channel_is_refused(
    harness: BotHarness, slack: SlackFake
) -> None:
    """Older (and Share) act only when clicked in the recapped thread's channel and team."""
    event = await harness.mention("page one")
    await final_reply(slack, event["ts"], "echo: page one")
    assert harness.service is not None
    record = await harness.service.store.get_thread(TEAM, CHANNEL, event["ts"])
    assert record is not None
    turn = await harness.service.pool.thread(record.codex_thread_id).start_turn("page two")
    assert (await turn.wait()).status == "completed"
    await harness.slash_command("/recap", f"{permalink(event['ts'])} 1")
    first = await _recap_page(slack, 0)
    older = _button(first, render.ACTION_RECAP_OLDER)
    assert older is not None

    for team, channel in ((TEAM, ELSEWHERE), ("T0OTHER", CHANNEL)):
        url = slack.response_url()
        click = block_actions_payload(
            action_id=render.ACTION_RECAP_OLDER,
            value=older,
            user=USER,
            channel=channel,
            message_ts="1.000000",
            is_ephemeral=True,
            response_url=url,
            team_id=team,
        )
        await harness.interact(click)
        [answer] = await _answers(slack, url)
        assert "another channel or workspace" in answer["text"]
        assert not answer.get("blocks")

    url = slack.response_url()
    await harness.interact(_click(render.ACTION_RECAP_OLDER, older, response_url=url))
    page = await _recap_page(slack, 1, url=url)
    assert _asked(page) == [(USER, "page one")]


async def test_an_empty_mention_answers_with_how_to_and_starts_no_turn(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """A mention with only the bot's name (or whitespace), top level or in a thread, tells the
    user what to type; no Codex turn or thread is started for it."""
    event = await harness.mention("a real question")
    await final_reply(slack, event["ts"], "echo: a real question")
    await harness.mention("   ", thread_ts=event["ts"])
    top = await harness.mention("")

    def how_tos() -> list[dict[str, Any]]:
        return [e for e in slack.ephemerals if "`steer" in str(e.get("text"))]

    await slack.wait_for(lambda: len(how_tos()) == 2, timeout=20)
    for how_to in how_tos():
        assert how_to["user"] == USER
        text = str(how_to["text"])
        assert all(word in text for word in ("question", "`steer", "`stop`", "`recap"))
    assert sorted(str(e.get("thread_ts")) for e in how_tos()) == sorted([event["ts"], "None"])
    # Both mentions are answered: neither became a turn, nor a Codex thread.
    assert [r.last_user_text for r in model_server.requests] == ["a real question"]
    assert len([m for m in slack.messages(CHANNEL) if m.get("blocks")]) == 1
    assert harness.service is not None
    assert await harness.service.store.get_thread(TEAM, CHANNEL, top["ts"]) is None


async def test_a_permalink_from_another_workspace_is_refused(
    harness: BotHarness, slack: SlackFake, model_server: ModelServer
) -> None:
    """/steer and /recap with another workspace's permalink (same channel and ts) are refused
    privately; nothing reaches Codex; auth.test (the workspace's own host) is asked once."""
    event = await harness.mention("HOLD a workspace-bound job")
    await running(slack, event["ts"])
    foreign = permalink(event["ts"]).replace(TEAM_DOMAIN, "other", 1)
    assert foreign.startswith("https://other.slack.com/archives/")
    asked_before = len(slack.calls_for("auth.test"))

    await harness.slash_command("/steer", f"{foreign} sneaky guidance")
    await harness.slash_command("/recap", f"{foreign} 2")
    await slack.wait_for(
        lambda: len([t for t in private_texts(slack) if "another Slack workspace" in t]) == 2,
        timeout=20,
    )
    assert all(r.last_user_text != "sneaky guidance" for r in model_server.requests)
    assert not [p for posts in slack.response_posts.values() for p in posts if p.get("blocks")]

    # The workspace's own permalink still works, and the host was looked up at most once.
    await harness.slash_command("/steer", f"{permalink(event['ts'])} honest guidance")
    await model_server.wait_for_request(lambda r: r.last_user_text == "honest guidance")
    await told(slack, "Steered the running turn")
    assert len(slack.calls_for("auth.test")) - asked_before <= 1


# -- helpers --------------------------------------------------------------------------------


def _latest(slack: SlackFake, ts: str) -> dict[str, Any]:
    return next(m for m in slack.messages(CHANNEL) if m["ts"] == ts)


async def _recap_page(slack: SlackFake, index: int, url: str | None = None) -> dict[str, Any]:
    """The ``index``-th recap answer (by response_url), waiting for it."""

    def pages() -> list[dict[str, Any]]:
        if url is not None:
            return slack.responses(url)
        posts = [p for posts in slack.response_posts.values() for p in posts]
        return [p for p in posts if p.get("blocks")]

    need = 1 if url is not None else index + 1
    await slack.wait_for(lambda: len(pages()) >= need, timeout=20)
    return pages()[-1 if url is not None else index]


async def _answers(slack: SlackFake, url: str) -> list[dict[str, Any]]:
    """What was posted to ``url`` (a click's response_url), once something was."""
    await slack.wait_for(lambda: slack.responses(url), timeout=20)
    return slack.responses(url)


def _button(page: dict[str, Any], action_id: str) -> str | None:
    for block in page.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(element["value"])
    return None


_ASKED = re.compile(r"^\*<@(\w+)> asked:\* (.*)$", re.MULTILINE)


def _asked(page: dict[str, Any]) -> list[tuple[str, str]]:
    texts = [b["text"]["text"] for b in page.get("blocks") or [] if b.get("type") == "section"]
    return [(m.group(1), m.group(2)) for t in texts for m in [_ASKED.search(t)] if m]


def _click(action_id: str, value: str, *, response_url: str | None = None) -> dict[str, Any]:
    return block_actions_payload(
        action_id=action_id,
        value=value,
        user=USER,
        channel=CHANNEL,
        message_ts="1.000000",
        is_ephemeral=True,
        response_url=response_url,
    )

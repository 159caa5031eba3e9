"""The playground in a real browser: a person's clicks and keys on the page, the real bot on
the other side of Slack's wire formats, the real Codex app-server, the demo model.

Each test starts its own thread in #general as Ada. The demo model's answers are known to the
test from the model itself (:attr:`playground.model.demo.DemoModel.answers`), so "ends on the
model's exact text" compares the page's markdown with what the model streamed.
"""

from __future__ import annotations

import os
import shutil

import pytest

from playground.runner import Playground
from tests.browser.conftest import ARTIFACTS
from tests.browser.slack_page import WAIT_MS, SlackPage
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOCS_SCREENSHOT = PROJECT_ROOT / "docs" / "playground.png"


async def test_a_mention_streams_a_reply_that_ends_on_the_model_text(
    slack: SlackPage, playground: Playground
) -> None:
    """The thread's status line says the bot is thinking until there is something to show;
    the reply appears while the model is still writing (a prefix of its answer, marked as
    streaming), then ends on exactly the model's text."""
    demo = playground.demo
    assert demo is not None
    started, done = demo.started, len(demo.answers)
    demo.pause()
    ts = await slack.mention("what is in this project?")
    await slack.open_thread(ts, first_reply=False)
    status = slack.page.locator("#status-line")
    await status.filter(has_text="codex is thinking").wait_for(timeout=WAIT_MS)
    demo.resume()
    await slack.thread_button("Approve").wait_for(timeout=WAIT_MS)
    await status.wait_for(state="hidden")  # the bot's post in the thread cleared it, as in Slack
    demo.pause()
    await slack.approve()
    await demo.wait_for_started(started + 1)
    streaming = slack.page.locator("#thread-messages .message.bot.streaming .b-markdown")
    await streaming.wait_for(timeout=WAIT_MS)
    partial = await streaming.get_attribute("data-source")
    demo.resume()

    answer = (await slack.answers(done + 1))[done]
    await slack.wait_for_reply(answer)
    assert partial
    assert answer.startswith(partial)
    assert len(partial) < len(answer)
    assert "Demo model" in await slack.page.locator("#model-badge").inner_text()


async def test_a_reply_in_the_thread_continues_the_codex_thread(
    slack: SlackPage, playground: Playground
) -> None:
    """A mention typed in the thread is the same Codex thread's next turn: the model is sent
    the first question again, and the page shows its second answer in the thread."""
    demo = playground.demo
    assert demo is not None
    ts, _ = await slack.first_turn("which files are there?")
    done = len(demo.answers)
    await slack.post("@codex and which one matters most?", in_thread=True)

    answer = (await slack.answers(done + 1))[done]
    await slack.wait_for_reply(answer)
    assert "turn 2 of the same Codex thread" in answer
    last_request = demo.requests[-1]
    assert any("which files are there?" in text for text in last_request.user_texts)
    thread_replies = slack.page.locator(f'#messages .message[data-ts="{ts}"] .replies')
    # The approval prompt, the first answer, the reply typed in the thread and its answer.
    # Waited for: a final posted anew (its lane busy) briefly sits beside the partial it
    # replaces until that is deleted, so the count can pass through 5 on its way to 4.
    await thread_replies.filter(has_text="4 replies").wait_for(timeout=WAIT_MS)


async def test_recap_shows_earlier_turns_and_older_pages_back(
    slack: SlackPage, playground: Playground
) -> None:
    """``/recap 1`` typed in the channel shows the newest turn only to its requester, with
    "Older"; pressing it replaces the page with the turn before."""
    demo = playground.demo
    assert demo is not None
    await slack.first_turn("what does app.py do?")
    done = len(demo.answers)
    await slack.post("@codex and README.md?", in_thread=True)
    await slack.wait_for_reply((await slack.answers(done + 1))[done])

    await slack.post("/recap 1")
    recap = slack.page.locator("#messages .message.ephemeral", has_text="Recap")
    await recap.wait_for(timeout=WAIT_MS)
    assert "Only visible to you" in await recap.inner_text()
    assert "asked: and README.md?" in await recap.inner_text()
    assert "asked: what does app.py do?" not in await recap.inner_text()

    await recap.get_by_role("button", name="Older", exact=True).click()
    await recap.filter(has_text="asked: what does app.py do?").wait_for(timeout=WAIT_MS)
    assert "asked: and README.md?" not in await recap.inner_text()
    assert "first turn" in await recap.inner_text()


async def test_stop_ends_a_running_turn(slack: SlackPage, playground: Playground) -> None:
    """Stop on a reply being written closes its stream; the bot stops the Codex turn and the
    reply ends saying who stopped it, short of the model's whole answer."""
    demo = playground.demo
    assert demo is not None
    started, done = demo.started, len(demo.answers)
    ts = await slack.mention("list everything, slowly")
    await slack.open_thread(ts)
    demo.pause()
    await slack.approve()
    await demo.wait_for_started(started + 1)
    stop = slack.page.locator("#thread-messages .message.bot.streaming .stream-stop")
    await stop.click(timeout=WAIT_MS)
    await slack.page.locator("#thread-messages .note", has_text="Stopped in Slack").wait_for()
    demo.resume()  # the model writes on; the bot's next append hears that Slack stopped

    stopped = slack.page.locator("#thread-messages .message.bot", has_text="Stopped by")
    await stopped.wait_for(timeout=WAIT_MS)
    assert "@ada" in await stopped.inner_text()
    assert await slack.page.locator("#thread-messages .message.streaming").count() == 0
    assert len(demo.answers) == done  # the answer was cut short: the model never finished it


async def test_an_approval_prompt_is_answered_with_its_button(
    slack: SlackPage, playground: Playground
) -> None:
    """Codex's request to run the demo command shows its decisions as buttons; Approve lets
    the command run (its listing is in the answer) and the prompt then says who chose."""
    demo = playground.demo
    assert demo is not None
    done = len(demo.answers)
    ts = await slack.mention("may I see the files?")
    await slack.open_thread(ts)
    prompt = slack.page.locator("#thread-messages .message.bot", has_text="run a command")
    await prompt.wait_for(timeout=WAIT_MS)
    assert "ls -1" in await prompt.inner_text()
    labels = await prompt.locator("button.sl-button").all_inner_texts()
    assert "Approve" in labels
    assert any(label.startswith("Decline") for label in labels)

    await prompt.get_by_role("button", name="Approve", exact=True).click()
    await prompt.filter(has_text="chose Approve").wait_for(timeout=WAIT_MS)
    assert await prompt.locator("button.sl-button").count() == 0
    answer = (await slack.answers(done + 1))[done]
    await slack.wait_for_reply(answer)
    assert "README.md" in answer
    assert "app.py" in answer


async def test_a_screenshot_of_the_page_is_saved(slack: SlackPage) -> None:
    """A finished thread in a channel of its own, photographed: the artifact for this run,
    and (with ``PLAYGROUND_DOCS_SCREENSHOT=1``) the README's picture."""
    await slack.page.get_by_role("button", name="# random", exact=True).click()
    await slack.page.locator("#channel-name", has_text="random").wait_for()
    await slack.first_turn("what is in this project?")
    await slack.page.mouse.move(0, 0)  # no hover menu in the picture
    path = ARTIFACTS / "playground.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await slack.page.screenshot(path=path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("PLAYGROUND_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(path, DOCS_SCREENSHOT)


async def test_steer_from_the_message_shortcut_redirects_the_running_turn(
    slack: SlackPage, playground: Playground
) -> None:
    """The "Steer Codex" shortcut on the thread opens the bot's modal; its guidance reaches
    the running turn (the model gets it mid-turn) and the reply ends on the steered answer."""
    demo = playground.demo
    assert demo is not None
    started = demo.started
    ts = await slack.mention("tell me about the project")
    await slack.open_thread(ts)
    demo.pause()
    await slack.approve()
    await demo.wait_for_started(started + 1)

    parent = slack.page.locator(f'#thread-messages .message[data-ts="{ts}"]')
    await parent.hover()
    await parent.locator("[data-menu]").click()
    await slack.page.get_by_role("button", name="Steer Codex", exact=True).click()
    modal = slack.page.locator(".modal", has_text="Steer Codex")
    await modal.locator("textarea").fill("focus on app.py")
    await modal.get_by_role("button", name="Steer", exact=True).click()
    await modal.wait_for(state="detached", timeout=WAIT_MS)
    told = slack.page.locator("#thread-messages .message.ephemeral", has_text="Steered")
    await told.wait_for(timeout=WAIT_MS)

    await demo.wait_for_request(lambda r: r.last_user_text == "focus on app.py")
    done = len(demo.answers)
    demo.resume()
    answer = (await slack.answers(done + 1))[done]
    assert answer.startswith("**Steered**")
    assert "focus on app.py" in answer
    await slack.wait_for_reply(answer)


async def test_a_codex_question_is_answered_with_its_buttons(
    slack: SlackPage, playground: Playground
) -> None:
    """The model's question shows its options as buttons; pressing one answers Codex, the
    prompt says who answered what, and the model's answer names the choice."""
    demo = playground.demo
    assert demo is not None
    done = len(demo.answers)
    ts = await slack.mention("ask me which file to read first")
    await slack.open_thread(ts)
    question = slack.page.locator("#thread-messages .message.bot", has_text="has a question")
    await question.wait_for(timeout=WAIT_MS)
    await question.get_by_role("button", name="app.py", exact=True).click()
    await question.filter(has_text="answered").wait_for(timeout=WAIT_MS)

    answer = (await slack.answers(done + 1))[done]
    assert "you picked **app.py**" in answer
    await slack.wait_for_reply(answer)

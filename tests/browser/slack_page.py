"""The playground's page as a person uses it, for the browser tests.

:class:`SlackPage` types and clicks as a person would (composer, Enter, buttons, the
message menu) and waits for what the page shows: messages by their ``data-*`` attributes,
markdown blocks by the text the bot sent (``data-source``). Waits are Playwright's, on the
page's own DOM; nothing sleeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from playground.runner import Playground

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

WAIT_MS: Final = 30_000
"""How long a step may take: a turn includes Codex starting a thread and calling the model."""

USER: Final = "U0001"


class SlackPage:
    """One page of the playground (``page``) on ``playground``."""

    def __init__(self, page: Page, playground: Playground) -> None:
        self.page = page
        self.playground = playground

    # -- typing -----------------------------------------------------------------------------

    async def post(self, text: str, *, in_thread: bool = False) -> None:
        """Type ``text`` in the channel's (or the open thread's) composer and press Enter."""
        box = self.page.locator("#thread-composer textarea" if in_thread else "#composer textarea")
        await box.fill(text)
        await box.press("Enter")

    async def mention(self, question: str) -> str:
        """Mention the bot with ``question`` in the channel; the new thread's ts."""
        mine = self.page.locator(f"#messages .message[data-user={USER}]")
        before = await mine.count()
        await self.post(f"@codex {question}")
        await mine.nth(before).wait_for(timeout=WAIT_MS)
        ts = await mine.nth(before).get_attribute("data-ts")
        assert ts is not None
        return ts

    async def open_thread(self, ts: str, *, first_reply: bool = True) -> None:
        """Open the thread of the channel message ``ts``: from its reply count once it has a
        reply (``first_reply``), else from "Reply in thread" on the message's hover menu."""
        message = self.page.locator(f'#messages .message[data-ts="{ts}"]')
        if first_reply:
            await message.locator(".replies").click(timeout=WAIT_MS)
        else:
            await message.hover()
            await message.get_by_title("Reply in thread").click()
        await self.page.locator(f'#thread-messages .message[data-ts="{ts}"]').wait_for()

    # -- looking ----------------------------------------------------------------------------

    def thread_button(self, label: str) -> Locator:
        """The last button labelled exactly ``label`` in the open thread."""
        thread = self.page.locator("#thread-messages")
        return thread.get_by_role("button", name=label, exact=True).last

    async def wait_for_reply(self, text: str, *, where: str = "#thread-messages") -> None:
        """Wait until a bot message there shows exactly ``text`` as its markdown, finished
        (no longer streaming)."""
        await self.page.wait_for_function(
            """([where, text]) => [...document.querySelectorAll(`${where} .message.bot`)]
                .some((m) => !m.classList.contains("streaming") &&
                    [...m.querySelectorAll(".b-markdown")].map((b) => b.dataset.source)
                        .join("") === text)""",
            arg=[where, text],
            timeout=WAIT_MS,
        )

    async def approve(self) -> None:
        """Press Approve on the thread's approval prompt and wait until it shows the choice."""
        await self.thread_button("Approve").click(timeout=WAIT_MS)
        await self.page.locator("#thread-messages", has_text="chose Approve").wait_for(
            timeout=WAIT_MS
        )

    async def answers(self, count: int) -> list[str]:
        """The demo model's answers once it has given ``count`` (waiting on the page's clock
        would be a sleep: this waits on the model's record, through the page's event loop)."""
        demo = self.playground.demo
        assert demo is not None
        await demo.wait_for_answers(count)
        return demo.answers

    async def first_turn(self, question: str) -> tuple[str, str]:
        """Mention the bot, open the thread, approve its command, and wait for the whole
        answer; the thread's ts and the answer's text."""
        demo = self.playground.demo
        assert demo is not None
        done = len(demo.answers)
        ts = await self.mention(question)
        await self.open_thread(ts)
        await self.approve()
        answer = (await self.answers(done + 1))[done]
        await self.wait_for_reply(answer)
        return ts, answer

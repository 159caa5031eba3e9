"""Recaps: a Codex thread's history, paged backward, as Block Kit only the requester sees.

A page is one ``thread/turns/list`` call (``sortDirection: "desc"``, ``itemsView: "summary"``,
``limit`` N), so its cost does not grow with the thread's length. The "Older" button's value is a
short id of the page's state kept in Redis (:meth:`bot.store.Store.save_cursor`): the opaque
``nextCursor`` never rides in a button. "Share" posts the page in the thread for everyone.
"""

from __future__ import annotations

from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.access import Access
from bot.mentions import author_of
from bot.replies import PrivateReplies, Requester
from bot.store import Store, ThreadRecord
from codex_client import CodexPool, Turn, UserMessageItem

NO_CODEX_HERE: Final = (
    "There is no Codex conversation in that thread. Mention me in a thread to start one."
)
ELSEWHERE: Final = (
    "That recap belongs to another channel or workspace: run `/recap` where its thread is."
)


def _turn_author(turn: Turn) -> str | None:
    for item in turn.items:
        if isinstance(item, UserMessageItem):
            return author_of(item.client_id)
    return None


class Recaps:
    """Shows recap pages and answers their Older and Share buttons."""

    def __init__(
        self,
        *,
        pool: CodexPool,
        store: Store,
        slack: AsyncWebClient,
        access: Access,
        replies: PrivateReplies,
    ) -> None:
        self.pool = pool
        self.store = store
        self.slack = slack
        self.access = access
        self.replies = replies

    async def show(
        self,
        req: Requester,
        record: ThreadRecord,
        limit: int,
        *,
        cursor: str | None = None,
        page: int = 0,
        replace_original: bool = False,
    ) -> None:
        refusal = await self.access.why_not("recap", user=req.user, channel=record.channel)
        if refusal is not None:
            await self.replies.tell(req, refusal)
            return
        turns, next_cursor = await self._page(record, limit, cursor)
        state = {
            "team": record.team,
            "channel": record.channel,
            "thread_ts": record.thread_ts,
            "user": req.user,
            "limit": limit,
            "page": page,
            "cursor": cursor,
            "next": next_cursor,
        }
        short_id = await self.store.save_cursor(state)
        first = page * limit + 1
        title = (
            f"Recap · the latest {len(turns)} turn{'s' if len(turns) != 1 else ''}"
            if page == 0
            else f"Recap · turns {first} to {first + len(turns) - 1} back"
        )
        blocks = render.recap_blocks(
            turns,
            title=title,
            older_value=short_id if next_cursor else None,
            share_value=short_id if turns else None,
            at_first_turn=next_cursor is None and bool(turns),
        )
        await self.replies.tell(req, title, blocks=blocks, replace_original=replace_original)

    async def _page(
        self, record: ThreadRecord, limit: int, cursor: str | None
    ) -> tuple[list[render.RecapTurn], str | None]:
        handle = self.pool.thread(record.codex_thread_id, endpoint_key=record.endpoint_key)
        page = await handle.turns(limit=limit, items_view="summary", cursor=cursor).next_page()
        if page is None:
            return [], None
        turns = []
        for index, turn in enumerate(page.turns):
            asked_by = _turn_author(turn)
            if asked_by is None and page.next_cursor is None and index == len(page.turns) - 1:
                asked_by = record.started_by  # the thread's first turn: its starter asked it
            turns.append(render.recap_turn(turn, asked_by=asked_by))
        return turns, page.next_cursor

    async def clicked(self, req: Requester, short_id: str, *, older: bool) -> None:
        state = await self.store.load_cursor(short_id)
        if state is None:
            await self.replies.tell(req, "This recap has expired; run `/recap` again.")
            return
        if state.get("user") != req.user:
            await self.replies.tell(
                req, "This recap belongs to someone else; run `/recap` for your own."
            )
            return
        if not req.is_in(str(state.get("team", "")), str(state.get("channel", ""))):
            await self.replies.tell(req, ELSEWHERE)
            return
        record = await self.store.get_thread(
            str(state["team"]), str(state["channel"]), str(state["thread_ts"])
        )
        if record is None:
            await self.replies.tell(req, NO_CODEX_HERE)
            return
        limit = int(state["limit"])
        if older:
            await self.show(
                req,
                record,
                limit,
                cursor=state.get("next"),
                page=int(state["page"]) + 1,
                replace_original=True,
            )
            return
        refusal = await self.access.why_not("recap", user=req.user, channel=record.channel)
        if refusal is not None:
            await self.replies.tell(req, refusal)
            return
        turns, _ = await self._page(record, limit, state.get("cursor"))
        title = f"Recap shared by {req.user}"
        blocks = render.recap_blocks(turns, title="Recap", shared_by=req.user)
        await self.slack.chat_postMessage(
            channel=record.channel, thread_ts=record.thread_ts, text=title, blocks=blocks
        )

"""Steer, recap, stop, approvals and Codex's questions: slash commands, buttons, shortcuts, modals.

Slack runs no slash command inside a thread, so each command comes in three forms:

- from the channel: ``/steer [<thread permalink>] <guidance>`` and ``/recap [<permalink>] [N]``.
  Without a permalink the target is the requester's most recent Codex thread in the channel
  (for ``/steer``: the most recent one with a running turn);
- in the thread, as a mention: ``@bot steer <guidance>``, ``@bot stop``, ``@bot recap [N]``
  (the bridge hands every mention to :meth:`Commands.in_thread` before it would become a turn;
  at the top level of a channel they act like the channel form);
- as message shortcuts: "Steer Codex" (a modal) and "Recap thread".

Steer sends ``turn/steer`` with the running turn from Redis as ``expectedTurnId``; when the
turn changed in between (Codex names the actual one), it steers that one instead, once. Stop
notes who pressed it, then sends ``turn/interrupt``; the reply's last line names them. A recap
pages backward through ``thread/turns/list`` (summary view), one page per message; the "Older"
button's value is a short id of the next cursor kept in Redis, so history never rides in a
button and each page costs the same however long the thread is.

A mention with nothing but the bot's name gets a short how-to rather than an empty turn.

What the bot says back is seen by the requester only (the command's ``response_url``, or
``chat.postEphemeral``), except a recap someone shares, and the "stopped by" line. A permalink
must point into this workspace (its host, from ``auth.test``, looked up once) and into the
channel the command is typed in: a recap or a steer must not reach into a conversation the
channel's members (and perhaps the requester) cannot see. Likewise a button acts only when
clicked in the team and channel of the thread it names. Every action is checked against the
allowlists first (:mod:`bot.access`); a refused user is told why, and nothing reaches Codex.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, Final, Protocol

import redis.exceptions
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.access import Access
from bot.approvals import Approvals
from bot.command_text import (
    DEFAULT_RECAP_TURNS,
    InThread,
    Permalink,
    RecapArgs,
    SteerArgs,
    UsageError,
    how_to,
    parse_in_thread,
    parse_recap,
    parse_steer,
    workspace_host,
)
from bot.mentions import Mention
from bot.questions import view_errors
from bot.recap import NO_CODEX_HERE, Recaps
from bot.replies import PrivateReplies, Requester
from bot.store import Store, ThreadRecord
from codex_client import CodexError, CodexPool, NoActiveTurn, RpcError, TurnMismatch

__all__ = ["STEER_MODAL", "Commands"]

log = logging.getLogger(__name__)

STEER_MODAL: Final = "steer_codex_modal"
_GUIDANCE_BLOCK: Final = "steer_guidance"
_GUIDANCE_INPUT: Final = "text"
_RERUN_EXPIRED: Final = "That request is more than a day old; mention me again to run it."
_RERUN_ELSEWHERE: Final = (
    "That button belongs to a request in another channel or workspace: nothing was run."
)
_STOP_ELSEWHERE: Final = (
    "That Stop button belongs to a turn in another channel or workspace: nothing was stopped."
)


class Commands:
    """Every user action other than a plain mention."""

    def __init__(
        self,
        *,
        pool: CodexPool,
        store: Store,
        slack: AsyncWebClient,
        access: Access,
        replies: PrivateReplies,
        recaps: Recaps,
        approvals: Approvals,
        submit: Submit,
        bot_user_id: str,
    ) -> None:
        self.pool = pool
        self.store = store
        self.slack = slack
        self.access = access
        self.replies = replies
        self.recaps = recaps
        self.approvals = approvals
        self.submit = submit
        self.bot_user_id = bot_user_id
        self._host: str | None = None
        self._host_lock = asyncio.Lock()

    # -- entry points ---------------------------------------------------------------------

    async def in_thread(self, mention: Mention) -> bool:
        """Handle ``mention`` if it is an in-thread command; False lets it become a turn."""
        top_level = mention.thread_ts == mention.ts
        req = Requester(
            mention.team, mention.user, mention.channel, None if top_level else mention.thread_ts
        )
        if not mention.text.strip() and not mention.files:
            # Only the bot's name: say what to type rather than start an empty turn.
            await self._guard(req, self._how_to(req))
            return True
        try:
            command = parse_in_thread(mention.text)
        except UsageError as exc:
            await self.replies.tell(req, str(exc))
            return True
        if command is None:
            return False
        await self._guard(req, self._in_thread(req, command, top_level))
        return True

    async def _how_to(self, req: Requester) -> None:
        refusal = await self.access.why_not("mention", user=req.user, channel=req.channel)
        await self.replies.tell(req, refusal or how_to(self.bot_user_id))

    async def _in_thread(self, req: Requester, command: InThread, top_level: bool) -> None:
        if top_level:
            # At the top level there is no thread to act on: behave like the channel form.
            record = await self._recent(req, running=command.verb != "recap")
        else:
            assert req.thread_ts is not None
            record = await self.store.get_thread(req.team, req.channel, req.thread_ts)
        if record is None:
            await self.replies.tell(req, self._nothing_running() if top_level else NO_CODEX_HERE)
        elif command.verb == "steer":
            await self._steer(req, record, command.guidance)
        elif command.verb == "stop":
            await self._stop(req, record)
        else:
            await self.recaps.show(req, record, command.limit)

    async def steer_command(self, command: dict[str, Any]) -> None:
        """``/steer [permalink] <guidance>``."""
        req = _from_command(command)
        try:
            args = parse_steer(str(command.get("text") or ""))
        except UsageError as exc:
            await self.replies.tell(req, str(exc))
            return
        await self._guard(req, self._steer_from_channel(req, args))

    async def _steer_from_channel(self, req: Requester, args: SteerArgs) -> None:
        record = await self._resolve(req, args.target, running=True)
        if record is not None:
            await self._steer(req, record, args.guidance)

    async def recap_command(self, command: dict[str, Any]) -> None:
        """``/recap [permalink] [N]``."""
        req = _from_command(command)
        try:
            args = parse_recap(str(command.get("text") or ""))
        except UsageError as exc:
            await self.replies.tell(req, str(exc))
            return
        await self._guard(req, self._recap_from_channel(req, args))

    async def _recap_from_channel(self, req: Requester, args: RecapArgs) -> None:
        record = await self._resolve(req, args.target, running=False)
        if record is not None:
            await self.recaps.show(req, record, args.limit)

    async def stop_clicked(self, body: dict[str, Any]) -> None:
        """The Stop button on a running reply."""
        req, action = _from_click(body)
        await self._guard(req, self._stop_clicked(req, str(action.get("value", ""))))

    async def rerun_clicked(self, body: dict[str, Any]) -> None:
        """ "Run again" on a reply whose turn the Codex server lost."""
        req, action = _from_click(body)
        action_ts = str(action.get("action_ts") or (body.get("message") or {}).get("ts") or "")
        await self._guard(req, self._rerun_clicked(req, str(action.get("value", "")), action_ts))

    async def approval_clicked(self, body: dict[str, Any]) -> None:
        """A decision button on an approval prompt."""
        req, action = _from_click(body)
        answer = self.approvals.answer(
            user=req.user,
            value=str(action.get("value", "")),
            tell=self.replies.to(req),
            channel=req.channel,
        )
        await self._guard(req, answer)

    async def question_clicked(self, body: dict[str, Any]) -> None:
        """An option button on a prompt with Codex's question."""
        req, action = _from_click(body)
        answer = self.approvals.answer_question(
            user=req.user,
            value=str(action.get("value", "")),
            tell=self.replies.to(req),
            channel=req.channel,
        )
        await self._guard(req, answer)

    async def question_modal_clicked(self, body: dict[str, Any]) -> None:
        """ "Other…" or "Answer…" on a question prompt: the answer modal."""
        req, action = _from_click(body)
        opened = self.approvals.open_question_modal(
            user=req.user,
            value=str(action.get("value", "")),
            trigger_id=str(body.get("trigger_id", "")),
            tell=self.replies.to(req),
            channel=req.channel,
        )
        await self._guard(req, opened)

    @staticmethod
    def question_view_errors(body: dict[str, Any]) -> dict[str, str]:
        """The answer modal's missing answers, for Slack to show on the modal (no I/O)."""
        values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
        return view_errors(values) if isinstance(values, dict) else {}

    async def question_submitted(self, body: dict[str, Any]) -> None:
        """The answer modal was submitted: answer the question it was opened for. Anything
        to say goes privately to the user, in the question's thread."""
        view = body.get("view") or {}
        user = body.get("user") or {}
        request_id = str(view.get("private_metadata") or "")
        values = (view.get("state") or {}).get("values") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        try:
            state = await self.store.get_approval(request_id) if request_id else None
        except redis.exceptions.RedisError:
            log.exception("Redis unreachable while reading an answer modal")
            return
        if state is None or not isinstance(values, dict):
            log.info("ignored an answer modal for a question that is gone")
            return
        record = state.record
        req = Requester(team, str(user.get("id", "")), record.channel, record.thread_ts)
        answer = self.approvals.question_submitted(
            user=req.user, request_id=request_id, values=values, tell=self.replies.to(req)
        )
        await self._guard(req, answer)

    async def recap_older_clicked(self, body: dict[str, Any]) -> None:
        """ "Older" on a recap: the page before it."""
        await self._recap_clicked(body, older=True)

    async def recap_share_clicked(self, body: dict[str, Any]) -> None:
        """ "Share" on a recap: post it in the thread for everyone."""
        await self._recap_clicked(body, older=False)

    async def _recap_clicked(self, body: dict[str, Any], *, older: bool) -> None:
        req, action = _from_click(body)
        url = body.get("response_url")
        req = replace(req, response_url=str(url) if url else None)
        await self._guard(req, self.recaps.clicked(req, str(action.get("value", "")), older=older))

    async def steer_shortcut(self, body: dict[str, Any]) -> None:
        """The "Steer Codex" message shortcut: a modal asking for the guidance."""
        req = _from_shortcut(body)
        await self._guard(req, self._open_steer_modal(req, str(body.get("trigger_id", ""))))

    async def _open_steer_modal(self, req: Requester, trigger_id: str) -> None:
        refusal = await self.access.why_not("steer", user=req.user, channel=req.channel)
        if refusal is not None:
            await self.replies.tell(req, refusal)
            return
        assert req.thread_ts is not None
        record = await self.store.get_thread(req.team, req.channel, req.thread_ts)
        if record is None:
            await self.replies.tell(req, NO_CODEX_HERE)
            return
        if await self.store.get_active_turn(record.codex_thread_id) is None:
            await self.replies.tell(req, self._nothing_running(in_thread=True))
            return
        meta = {"team": req.team, "channel": req.channel, "thread_ts": req.thread_ts}
        await self.slack.views_open(trigger_id=trigger_id, view=_steer_modal(json.dumps(meta)))

    async def steer_submitted(self, body: dict[str, Any]) -> None:
        """The steer modal was submitted: steer the thread it was opened on."""
        view = body.get("view") or {}
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            values = view["state"]["values"][_GUIDANCE_BLOCK][_GUIDANCE_INPUT]
            guidance = str(values.get("value") or "").strip()
            req = Requester(
                team=str(meta["team"]),
                user=str((body.get("user") or {})["id"]),
                channel=str(meta["channel"]),
                thread_ts=str(meta["thread_ts"]),
            )
        except (KeyError, TypeError, ValueError):
            log.warning("ignored a malformed steer modal submission")
            return
        await self._guard(req, self._steer_in(req, guidance))

    async def _steer_in(self, req: Requester, guidance: str) -> None:
        assert req.thread_ts is not None
        record = await self.store.get_thread(req.team, req.channel, req.thread_ts)
        if record is None:
            await self.replies.tell(req, NO_CODEX_HERE)
        elif not guidance:
            await self.replies.tell(req, "Nothing to send: the guidance was empty.")
        else:
            await self._steer(req, record, guidance)

    async def recap_shortcut(self, body: dict[str, Any]) -> None:
        """The "Recap thread" message shortcut: a recap of the thread, for the requester."""
        req = _from_shortcut(body)
        await self._guard(req, self._recap_in(req))

    async def _recap_in(self, req: Requester) -> None:
        assert req.thread_ts is not None
        record = await self.store.get_thread(req.team, req.channel, req.thread_ts)
        if record is None:
            await self.replies.tell(req, NO_CODEX_HERE)
        else:
            await self.recaps.show(req, record, DEFAULT_RECAP_TURNS)

    # -- targets ----------------------------------------------------------------------------

    async def _resolve(
        self, req: Requester, target: Permalink | None, *, running: bool
    ) -> ThreadRecord | None:
        """The thread a channel-form command acts on; None (and the requester told why)."""
        if target is None:
            record = await self._recent(req, running=running)
            if record is None:
                await self.replies.tell(
                    req, self._nothing_running() if running else self._no_thread()
                )
            return record
        host = await self._workspace_host(req)
        if host is None:
            return None
        if target.host != host:
            await self.replies.tell(
                req,
                f"That permalink is from another Slack workspace ({target.host}): I only act "
                f"on threads in this one ({host}).",
            )
            return None
        if target.channel != req.channel:
            await self.replies.tell(
                req,
                f"That permalink points into <#{target.channel}>: run the command there, "
                "so nobody reads or steers a conversation from another channel.",
            )
            return None
        record = await self.store.get_thread(req.team, target.channel, target.thread_ts)
        if record is None:
            await self.replies.tell(req, NO_CODEX_HERE)
        return record

    async def _workspace_host(self, req: Requester) -> str | None:
        """This workspace's host (``acme.slack.com``), from ``auth.test`` once and then cached;
        None (and the requester told) when Slack will not say."""
        async with self._host_lock:
            if self._host is None:
                try:
                    auth = await self.slack.auth_test()
                except SlackApiError as exc:
                    error = exc.response.get("error") if exc.response is not None else None
                    log.warning("auth.test failed while checking a permalink: %s", error)
                else:
                    self._host = workspace_host(auth.get("url"))
                    if self._host is None:
                        log.warning("auth.test gave no workspace url to check permalinks by")
        if self._host is None:
            await self.replies.tell(
                req, "I couldn't check which workspace that permalink is from; try again soon."
            )
        return self._host

    async def _recent(self, req: Requester, *, running: bool) -> ThreadRecord | None:
        """The requester's most recent Codex thread in the channel (with a running turn)."""
        for thread_ts in await self.store.recent_user_threads(req.team, req.channel, req.user):
            record = await self.store.get_thread(req.team, req.channel, thread_ts)
            if record is None:
                continue
            if not running or await self.store.get_active_turn(record.codex_thread_id):
                return record
        return None

    def _nothing_running(self, *, in_thread: bool = False) -> str:
        where = "in this thread" if in_thread else "of yours in this channel"
        return (
            f"There is no running Codex turn {where} to act on. To start one, mention "
            f"<@{self.bot_user_id}> in a thread with your request; while it runs, "
            "`/steer <guidance>` (or `@codex steer <guidance>` in the thread) steers it."
        )

    async def _not_running(self, record: ThreadRecord, *, in_thread: bool) -> str:
        if await self.store.lease_owner(record.key) is not None:
            # A turn holds the thread but has no id yet (Codex is starting it).
            return "The turn in that thread is just starting; try again in a moment."
        return self._nothing_running(in_thread=in_thread)

    def _no_thread(self) -> str:
        return (
            "You have no Codex conversation in this channel yet. Mention "
            f"<@{self.bot_user_id}> in a thread to start one, or pass a thread permalink."
        )

    # -- steer ------------------------------------------------------------------------------

    async def _steer(self, req: Requester, record: ThreadRecord, guidance: str) -> None:
        refusal = await self.access.why_not("steer", user=req.user, channel=record.channel)
        if refusal is not None:
            await self.replies.tell(req, refusal)
            return
        in_thread = req.thread_ts == record.thread_ts
        active = await self.store.get_active_turn(record.codex_thread_id)
        if active is None:
            await self.replies.tell(req, await self._not_running(record, in_thread=in_thread))
            return
        handle = self.pool.thread(record.codex_thread_id, endpoint_key=record.endpoint_key)
        try:
            try:
                await handle.steer(guidance, expected_turn_id=active.turn_id)
            except TurnMismatch as exc:
                # The steer race: another turn started since Redis was read. Codex names it;
                # steer that one, once (the guidance was meant for whatever runs now).
                again = exc.actual or await self._active_turn_id(record)
                if not again:
                    raise NoActiveTurn() from exc
                await handle.steer(guidance, expected_turn_id=again)
        except (NoActiveTurn, TurnMismatch):
            await self.replies.tell(req, self._nothing_running(in_thread=in_thread))
            return
        except CodexError as exc:
            log.warning("steer failed for %s: %s", record.key, type(exc).__name__)
            await self.replies.tell(req, _codex_error(exc, "steer the turn"))
            return
        where = "" if in_thread else f" in <#{record.channel}>"
        await self.replies.tell(
            req, f"🧭 Steered the running turn{where}: “{render.gist(guidance, 200)}”"
        )

    async def _active_turn_id(self, record: ThreadRecord) -> str | None:
        active = await self.store.get_active_turn(record.codex_thread_id)
        return active.turn_id if active is not None else None

    # -- stop -------------------------------------------------------------------------------

    async def _rerun_clicked(self, req: Requester, value: str, action_ts: str) -> None:
        """ "Run again" on a reply whose turn the Codex server lost: the same request, asked
        anew by the clicker (who must be allowed to mention the bot there)."""
        raw = await self.store.load_rerun(value)
        if raw is None:
            await self.replies.tell(req, _RERUN_EXPIRED)
            return
        lost = Mention.from_json(raw)
        if not req.is_in(lost.team, lost.channel):
            await self.replies.tell(req, _RERUN_ELSEWHERE)
            return
        refusal = await self.access.why_not("mention", user=req.user, channel=req.channel)
        if refusal is not None:
            await self.replies.tell(req, refusal)
            return
        # A new ts makes it a new request to Codex (its clientUserMessageId differs), so it is
        # not mistaken for the lost turn.
        await self.submit(replace(lost, user=req.user, ts=action_ts or lost.ts))

    async def _stop_clicked(self, req: Requester, value: str) -> None:
        team, _, rest = value.partition(":")
        channel, _, thread_ts = rest.partition(":")
        if not req.is_in(team, channel):
            # The value is only what the button says; the click's team and channel are Slack's.
            await self.replies.tell(req, _STOP_ELSEWHERE)
            return
        record = await self.store.get_thread(team, channel, thread_ts)
        if record is None:
            await self.replies.tell(req, NO_CODEX_HERE)
            return
        await self._stop(replace(req, thread_ts=thread_ts), record)

    async def _stop(self, req: Requester, record: ThreadRecord) -> None:
        refusal = await self.access.why_not("stop", user=req.user, channel=record.channel)
        if refusal is not None:
            await self.replies.tell(req, refusal)
            return
        active = await self.store.get_active_turn(record.codex_thread_id)
        if active is None:
            await self.replies.tell(req, await self._not_running(record, in_thread=True))
            return
        # Noted before the interrupt, so the turn's last line can name who stopped it.
        await self.store.set_stopper(record.codex_thread_id, active.turn_id, req.user)
        handle = self.pool.thread(record.codex_thread_id, endpoint_key=record.endpoint_key)
        try:
            await handle.interrupt(active.turn_id)
        except RpcError:
            await self.replies.tell(req, "That turn had already finished.")
        except CodexError as exc:
            log.warning("interrupt failed for %s: %s", record.key, type(exc).__name__)
            await self.replies.tell(req, _codex_error(exc, "stop the turn"))

    async def _guard(self, req: Requester, work: Awaitable[None]) -> None:
        """Run ``work``, telling the requester when Redis or Slack fails under it."""
        try:
            await work
        except redis.exceptions.RedisError:
            log.exception("Redis unreachable while serving a command")
            with contextlib.suppress(Exception):
                await self.replies.tell(req, render.REDIS_DOWN)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("Slack refused a call while serving a command: %s", error)


class Submit(Protocol):
    """Queues a mention as a request to the agent (:meth:`bot.bridge.Bridge.submit`)."""

    async def __call__(self, mention: Mention) -> None: ...


def _from_click(body: dict[str, Any]) -> tuple[Requester, dict[str, Any]]:
    """Who clicked, where (Slack's team and channel, not the button's), and the action."""
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    thread_ts = message.get("thread_ts") or container.get("thread_ts")
    user = body.get("user") or {}
    req = Requester(
        team=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
        user=str(user.get("id", "")),
        channel=channel,
        thread_ts=str(thread_ts) if thread_ts else None,
    )
    return req, action


def _from_command(command: dict[str, Any]) -> Requester:
    url = command.get("response_url")
    return Requester(
        team=str(command.get("team_id", "")),
        user=str(command.get("user_id", "")),
        channel=str(command.get("channel_id", "")),
        response_url=str(url) if url else None,
    )


def _from_shortcut(body: dict[str, Any]) -> Requester:
    message = body.get("message") or {}
    user = body.get("user") or {}
    return Requester(
        team=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
        user=str(user.get("id", "")),
        channel=str((body.get("channel") or {}).get("id", "")),
        thread_ts=str(message.get("thread_ts") or message.get("ts") or body.get("message_ts")),
    )


def _steer_modal(private_metadata: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": STEER_MODAL,
        "title": {"type": "plain_text", "text": "Steer Codex"},
        "submit": {"type": "plain_text", "text": "Steer"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": private_metadata,
        "blocks": [
            {
                "type": "input",
                "block_id": _GUIDANCE_BLOCK,
                "label": {"type": "plain_text", "text": "Guidance for the running turn"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": _GUIDANCE_INPUT,
                    "multiline": True,
                    "placeholder": {"type": "plain_text", "text": "e.g. use the v2 API instead"},
                },
            }
        ],
    }


def _codex_error(exc: CodexError, doing: str) -> str:
    # Only the error's kind: messages can carry the deployment's URLs or paths.
    return f"⚠️ I couldn't reach Codex to {doing} (`{type(exc).__name__}`). Try again in a moment."

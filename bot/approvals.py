"""Codex's requests to the client: approval prompts in Slack, and refusals for the rest.

A command (``item/commandExecution/requestApproval``) or file-change
(``item/fileChange/requestApproval``) approval goes like this:

1. The replica whose Codex connection received the request (the *holder*) subscribes to the
   decisions channel, posts the prompt in the Slack thread (the command, or the list of file
   changes, and one button per decision the server offers; ``decline`` is always offered), and
   stores an :class:`~bot.store.ApprovalRecord`.
2. A click may land on any replica. That replica checks that the clicker started the turn or
   is a configured approver (anyone else is told why not), then records the decision in Redis,
   where the first writer wins and the winner is published on
   :data:`~bot.store.APPROVAL_DECISIONS`.
3. The holder receives the decision, answers Codex, and replaces the buttons with the outcome
   (who chose what).

The holder marks the approval expired, and says so on the message, when the connection holding
the request drops (the client cancels the handler: the answer could no longer be delivered),
when the turn ends before an answer (stopped, say), or after :data:`~bot.store.APPROVAL_TTL`.

A question from Codex (``item/tool/requestUserInput``, the model's ``request_user_input``
tool; see :mod:`bot.questions`) goes the same way: the prompt shows the questions with a
button per option and, for an answer in one's own words or several questions, a modal; the
answer recorded is the JSON of Codex's ``answers``, and the message then shows who answered
what. An expired question is answered with no answers, and Codex goes on without them.

Every other server request is answered at once with a refusal of the shape it expects (no
permissions granted, elicitation declined…) so a turn never stalls waiting for input Slack
cannot give; the few that have no refusal shape get a JSON-RPC error. When the refused
request wanted a person (an MCP server's form, a permissions request, an unknown method),
the thread is told so in a line of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import redis.exceptions
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from bot import render
from bot.access import Access
from bot.config import Settings
from bot.questions import USER_INPUT, button_answer, parse_questions, restored, stored, view_answers
from bot.replies import post_notice
from bot.store import (
    APPROVAL_TTL,
    ApprovalDecision,
    ApprovalRecord,
    ApprovalState,
    Store,
    ThreadRecord,
)
from bot.tasks import BackgroundTasks
from codex_client import (
    ApprovalRequest,
    CommandExecutionApproval,
    FileChangeApproval,
    FileChangeItem,
    ItemStarted,
    TurnCompleted,
    TurnEvent,
)

__all__ = [
    "COMMAND_APPROVAL",
    "EXPIRED",
    "FILE_CHANGE_APPROVAL",
    "USER_INPUT",
    "Approvals",
    "refusal",
]

log = logging.getLogger(__name__)

COMMAND_APPROVAL: Final = CommandExecutionApproval.METHOD
FILE_CHANGE_APPROVAL: Final = FileChangeApproval.METHOD
EXPIRED: Final = "expired"
"""The decision recorded for a request nobody answered in time (see ``Store.resolve_approval``)."""

SUBSCRIBE_TIMEOUT: Final = 10.0
"""How long a new prompt waits for the decisions subscription before giving up (Redis down)."""
ITEM_WAIT: Final = 2.0
"""How long a file-change prompt waits for its item (from the turn's events) to list the files."""
REMEMBERED_ITEMS: Final = 256

_TURN_ENDED: Final = "the turn ended before anyone answered"
_FILE_DECISIONS: Final = ("accept", "acceptForSession", "decline", "cancel")
_COMMAND_DECISIONS: Final = ("accept", "decline", "cancel")


class UnsupportedRequest(Exception):
    """A server request the bot cannot answer with a result; the client replies with an error."""


def refusal(method: str) -> dict[str, Any]:
    """The answer that refuses a server request other than a command/file approval.

    Each has the shape its method expects, so the server reads a clear "no" and the turn
    continues. Raises :class:`UnsupportedRequest` for methods with no refusal shape (auth
    token refresh, attestation): the JSON-RPC error the client then sends also means no.
    """
    if method == "item/permissions/requestApproval":
        return {"permissions": {}, "scope": "turn"}
    if method == "item/tool/requestUserInput":
        return {"answers": {}}
    if method == "mcpServer/elicitation/request":
        return {"action": "decline"}
    if method == "item/tool/call":
        text = "This tool is not available to Codex when it runs from Slack."
        return {"contentItems": [{"type": "inputText", "text": text}], "success": False}
    if method in ("execCommandApproval", "applyPatchApproval"):
        return {"decision": "denied"}
    if method == "currentTime/read":
        return {"currentTimeAt": int(time.time())}
    raise UnsupportedRequest(method)


def offered_decisions(request: ApprovalRequest) -> list[Any]:
    """The decisions to offer as buttons: the server's list, with ``decline`` always in it."""
    details = request.details
    offered: list[Any] = []
    if isinstance(details, CommandExecutionApproval) and details.available_decisions:
        offered = list(details.available_decisions)
    if not offered:
        offered = list(
            _FILE_DECISIONS if request.method == FILE_CHANGE_APPROVAL else _COMMAND_DECISIONS
        )
    if "decline" not in offered:
        # Decline is valid even when not listed; put it before cancel, the harsher no.
        at = offered.index("cancel") if "cancel" in offered else len(offered)
        offered = [*offered[:at], "decline", *offered[at:]]
    return offered[: render.APPROVAL_BUTTONS]


Prompt = render.ApprovalPrompt | render.QuestionPrompt
"""What a pending request's message shows: an approval or Codex's questions."""


@dataclass
class _Waiter:
    """One request the holder waits on, and what its message shows."""

    thread_id: str
    turn_id: str
    future: asyncio.Future[ApprovalDecision]
    prompt: Prompt
    decisions: list[Any]
    channel: str
    message_ts: str | None = None
    turn_ended: bool = False
    expired_why: str | None = None


class Approvals:
    """Posts approval prompts and Codex's questions, and answers Codex with what a
    permitted user picks."""

    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient,
        settings: Settings,
        access: Access,
        tasks: BackgroundTasks,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.slack = slack
        self.settings = settings
        self.access = access
        self._waiters: dict[str, _Waiter] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._items: OrderedDict[str, FileChangeItem] = OrderedDict()
        self._item_seen = asyncio.Condition()

    # -- Codex side ---------------------------------------------------------------------------

    async def handle(self, request: ApprovalRequest) -> dict[str, Any]:
        """Answer one server->client request (the pool's approval handler)."""
        if request.method == USER_INPUT:
            return await self._question(request)
        if request.method not in (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL):
            return self._refuse(request)
        details = request.details
        if not isinstance(details, CommandExecutionApproval | FileChangeApproval):
            return {"decision": "decline"}  # params that do not fit: no ids to ask about
        try:
            return await self._ask(request, details)
        except (redis.exceptions.RedisError, SlackApiError) as exc:
            # Nobody can be asked, so the safe answer is no; the turn goes on without it.
            log.error("could not ask for an approval (%s); declined", type(exc).__name__)
            return {"decision": "decline"}

    def _refuse(self, request: ApprovalRequest) -> dict[str, Any]:
        """Refuse a request nobody can be asked in Slack; the thread is told when it wanted
        a person. Raises :class:`UnsupportedRequest` for a method with no refusal shape."""
        log.info("refused a %s request from Codex", request.method)
        line = render.request_refused(request.method, request.params)
        if line is not None and request.thread_id is not None:
            self.tasks.spawn(self._tell_thread(request.thread_id, line))
        return refusal(request.method)

    async def _tell_thread(self, thread_id: str, text: str) -> None:
        """Post ``text`` in the Slack thread of Codex thread ``thread_id``, if it has one."""
        try:
            record = await self.store.thread_for_codex(thread_id)
        except redis.exceptions.RedisError as exc:
            log.warning("could not tell a thread about a refused request: %s", type(exc).__name__)
            return
        if record is not None:
            await post_notice(self.slack, record.channel, record.thread_ts, text)

    def observe(self, event: TurnEvent) -> None:
        """See a turn's events (hooked into the bridge): file-change items, turn ends."""
        if isinstance(event, ItemStarted) and isinstance(event.item, FileChangeItem):
            self._items[event.item.id] = event.item
            while len(self._items) > REMEMBERED_ITEMS:
                self._items.popitem(last=False)
            self.tasks.spawn(self._notify_item())
        elif isinstance(event, TurnCompleted):
            for approval_id, waiter in list(self._waiters.items()):
                if (waiter.thread_id, waiter.turn_id) == (event.thread_id, event.turn_id):
                    waiter.turn_ended = True
                    self.tasks.spawn(self._expire(approval_id, waiter, _TURN_ENDED))

    async def _notify_item(self) -> None:
        async with self._item_seen:
            self._item_seen.notify_all()

    async def _started_by(self, record: ThreadRecord, thread_id: str, turn_id: str) -> str:
        """Who started turn ``turn_id``: the running turn's user, else the thread's starter."""
        active = await self.store.get_active_turn(thread_id)
        return active.user if active and active.turn_id == turn_id else record.started_by

    async def _ask(
        self, request: ApprovalRequest, details: CommandExecutionApproval | FileChangeApproval
    ) -> dict[str, Any]:
        thread_id, turn_id = details.thread_id, details.turn_id
        record = await self.store.thread_for_codex(thread_id)
        if record is None:
            log.warning("declined an approval for a Codex thread with no Slack thread")
            return {"decision": "decline"}
        started_by = await self._started_by(record, thread_id, turn_id)
        prompt = await self._prompt(details, started_by)
        waiter = self._waiter(thread_id, turn_id, prompt, offered_decisions(request), record)
        approval_id, decision = await self._post_and_wait(request, record, waiter)
        if decision.decision == EXPIRED:
            self.tasks.spawn(self._show(approval_id, waiter, self._expired(waiter)))
            return {"decision": "decline"}  # Codex no longer waits for it; no is the safe answer
        value = json.loads(decision.decision)
        outcome = render.approval_outcome(value, user=decision.user)
        self.tasks.spawn(self._show(approval_id, waiter, outcome))
        return {"decision": value}

    async def _question(self, request: ApprovalRequest) -> dict[str, Any]:
        """Put Codex's questions to the turn's starter; the answers, or none once expired."""
        questions = parse_questions(request.params)
        thread_id, turn_id = request.thread_id, request.turn_id
        if questions is None or thread_id is None or turn_id is None:
            return self._refuse(request)
        try:
            record = await self.store.thread_for_codex(thread_id)
            if record is None:
                log.warning("no answers to questions from a Codex thread with no Slack thread")
                return {"answers": {}}
            started_by = await self._started_by(record, thread_id, turn_id)
            prompt = render.QuestionPrompt(started_by=started_by, questions=questions)
            waiter = self._waiter(thread_id, turn_id, prompt, stored(questions), record)
            approval_id, decision = await self._post_and_wait(request, record, waiter)
        except (redis.exceptions.RedisError, SlackApiError) as exc:
            # Nobody can be asked: Codex goes on with its own judgment.
            log.error("could not ask Codex's question (%s); no answers", type(exc).__name__)
            return {"answers": {}}
        if decision.decision == EXPIRED:
            self.tasks.spawn(self._show(approval_id, waiter, self._expired(waiter)))
            return {"answers": {}}
        answers = json.loads(decision.decision)
        shown = {key: value.get("answers", []) for key, value in answers.items()}
        outcome = render.question_outcome(prompt, shown, user=decision.user)
        self.tasks.spawn(self._show(approval_id, waiter, outcome))
        return {"answers": answers}

    def _waiter(
        self,
        thread_id: str,
        turn_id: str,
        prompt: Prompt,
        decisions: list[Any],
        record: ThreadRecord,
    ) -> _Waiter:
        return _Waiter(
            thread_id=thread_id,
            turn_id=turn_id,
            future=asyncio.get_running_loop().create_future(),
            prompt=prompt,
            decisions=decisions,
            channel=record.channel,
        )

    async def _post_and_wait(
        self, request: ApprovalRequest, record: ThreadRecord, waiter: _Waiter
    ) -> tuple[str, ApprovalDecision]:
        """Store and post the prompt, then wait for its answer (or its expiry)."""
        approval_id = secrets.token_urlsafe(9)
        approval = ApprovalRecord(
            approval_id=approval_id,
            codex_thread_id=waiter.thread_id,
            turn_id=waiter.turn_id,
            request_id=request.request_id,
            endpoint_key=request.endpoint_key,
            method=request.method,
            channel=record.channel,
            thread_ts=record.thread_ts,
            message_ts="",
            started_by=waiter.prompt.started_by,
            available_decisions=waiter.decisions,
            created_at=time.time(),
        )
        try:
            await self._register(approval_id, waiter)
            # Stored before it is shown, so a click that comes at once finds it.
            await self.store.save_approval(approval)
            item_id = request.params.get("itemId")
            if isinstance(item_id, str) and item_id:
                previous = await self.store.replace_prompt(waiter.thread_id, item_id, approval_id)
                if previous is not None and previous != approval_id:
                    await self._stand_down(previous)
            text, blocks = self._message(approval_id, waiter)
            posted = await self.slack.chat_postMessage(
                channel=record.channel, thread_ts=record.thread_ts, text=text, blocks=blocks
            )
            waiter.message_ts = str(posted["ts"])
            await self.store.save_approval(
                approval.model_copy(update={"message_ts": waiter.message_ts})
            )
            if waiter.turn_ended:
                # The turn ended while the prompt was being posted: nothing waits for it.
                await self._expire(approval_id, waiter, _TURN_ENDED)
            try:
                async with asyncio.timeout(APPROVAL_TTL):
                    decision = await waiter.future
            except TimeoutError:
                await self._expire(approval_id, waiter, "nobody answered within a day")
                decision = await waiter.future
        except asyncio.CancelledError:
            # The connection holding the request dropped: no answer can reach Codex any more.
            # The expiry runs as a task of its own, since this one is being cancelled.
            why = "the connection to Codex dropped before anyone answered"
            self.tasks.spawn(self._expire(approval_id, waiter, why, show=True))
            raise
        finally:
            self._unregister(approval_id)
        return approval_id, decision

    async def _prompt(
        self, details: CommandExecutionApproval | FileChangeApproval, started_by: str
    ) -> render.ApprovalPrompt:
        if isinstance(details, CommandExecutionApproval):
            return render.ApprovalPrompt(
                kind="command",
                started_by=started_by,
                command=_command_line(details),
                cwd=details.cwd,
                reason=details.reason,
            )
        item = await self._item(details.item_id)
        changes = tuple(
            (change.kind.type if change.kind else "change", change.path or "?")
            for change in (item.changes if item is not None else [])
        )
        return render.ApprovalPrompt(
            kind="fileChange", started_by=started_by, reason=details.reason, changes=changes
        )

    async def _item(self, item_id: str | None) -> FileChangeItem | None:
        """The started file-change item ``item_id``: its event comes just before the request,
        but the bridge may not have read it yet."""
        if item_id is None:
            return None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ITEM_WAIT), self._item_seen:
                await self._item_seen.wait_for(lambda: item_id in self._items)
        return self._items.get(item_id)

    # -- expiry and the message ---------------------------------------------------------------

    async def _expire(
        self, approval_id: str, waiter: _Waiter, why: str, *, show: bool = False
    ) -> None:
        """Resolve the request as expired unless someone answered first.

        The waiting :meth:`_post_and_wait` then shows the outcome; ``show`` shows it here
        instead, for when that task is gone (cancelled with its connection).
        """
        try:
            won = await self.store.resolve_approval(approval_id, EXPIRED, "")
        except redis.exceptions.RedisError:
            log.warning("could not mark approval %s expired", approval_id)
            return
        if not won:
            return
        waiter.expired_why = why
        self._deliver(
            ApprovalDecision(
                approval_id=approval_id, decision=EXPIRED, user="", decided_at=time.time()
            )
        )
        if show:
            await self._show(approval_id, waiter, self._expired(waiter))

    @staticmethod
    def _expired(waiter: _Waiter) -> str:
        why = waiter.expired_why or "nobody answered in time"
        if isinstance(waiter.prompt, render.QuestionPrompt):
            return render.question_expired(why)
        return render.approval_outcome(EXPIRED, user=None, why=why)

    @staticmethod
    def _message(
        approval_id: str, waiter: _Waiter, outcome: str | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        """The request's message: its text, and its blocks with buttons or ``outcome``."""
        prompt = waiter.prompt
        if isinstance(prompt, render.QuestionPrompt):
            text = render.question_text(prompt)
            blocks = render.question_blocks(prompt, request_id=approval_id, outcome=outcome)
        else:
            text = render.approval_text(prompt)
            blocks = render.approval_blocks(
                prompt, approval_id=approval_id, decisions=waiter.decisions, outcome=outcome
            )
        return (text if outcome is None else f"{text}: {outcome}"), blocks

    async def _stand_down(self, approval_id: str) -> None:
        """Codex asked again for a request already prompted (another replica took the turn
        over; the one that posted the first prompt is gone): the first prompt stops taking
        answers, and says where to answer now. An answer given meanwhile stands."""
        if not await self.store.resolve_approval(approval_id, EXPIRED, ""):
            return
        state = await self.store.get_approval(approval_id)
        if state is None or not state.record.message_ts:
            return
        text = render.ASKED_AGAIN
        try:
            await self.slack.chat_update(
                channel=state.record.channel,
                ts=state.record.message_ts,
                text=text,
                blocks=[{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}],
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("could not retire a prompt asked again: %s", error)

    async def _show(self, approval_id: str, waiter: _Waiter, outcome: str) -> None:
        """Replace the request's buttons with ``outcome``."""
        if waiter.message_ts is None:
            return
        text, blocks = self._message(approval_id, waiter, outcome)
        try:
            await self.slack.chat_update(
                channel=waiter.channel, ts=waiter.message_ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("could not show the outcome of approval %s: %s", approval_id, error)

    # -- Slack side ---------------------------------------------------------------------------

    async def answer(
        self,
        *,
        user: str,
        value: str,
        tell: Callable[[str], Awaitable[None]],
        channel: str | None = None,
    ) -> None:
        """A click on a decision button (``value`` = ``<approval_id>:<index>``), on any replica.

        The clicker must be allowed to approve and be the turn's starter or an approver, and
        the click must come from the prompt's own ``channel`` (Slack's, not the button's);
        otherwise, or if someone answered first or the request expired, ``tell`` says so.
        """
        await self._button(
            user, value, _APPROVALS, tell, channel, lambda r, i: r.available_decisions[i]
        )

    async def answer_question(
        self,
        *,
        user: str,
        value: str,
        tell: Callable[[str], Awaitable[None]],
        channel: str | None = None,
    ) -> None:
        """A click on an option of a one-question prompt (``<request_id>:<option index>``),
        on any replica; checked as :meth:`answer` checks decisions."""
        await self._button(
            user,
            value,
            (USER_INPUT,),
            tell,
            channel,
            lambda r, i: button_answer(restored(r.available_decisions), i),
        )

    async def _button(
        self,
        user: str,
        value: str,
        methods: tuple[str, ...],
        tell: Callable[[str], Awaitable[None]],
        channel: str | None,
        pick: Callable[[ApprovalRecord, int], Any],
    ) -> None:
        """A click on the button ``<request id>:<index>`` of a prompt for one of
        ``methods``: what ``pick`` finds at that index is the answer, if the clicker may give
        it (see :meth:`answer`)."""
        request_id, _, index_text = value.rpartition(":")
        state = await self._open_to(user, request_id, methods, tell, channel)
        if state is None:
            return
        try:
            chosen = pick(state.record, int(index_text))
        except (ValueError, IndexError):
            await tell("That button is out of date.")
            return
        await self._decide(request_id, json.dumps(chosen), user, tell)

    async def open_question_modal(
        self,
        *,
        user: str,
        value: str,
        trigger_id: str,
        tell: Callable[[str], Awaitable[None]],
        channel: str | None = None,
    ) -> None:
        """ "Other…"/"Answer…" (``value`` = the request id): the answer modal, for a user who
        may answer (anyone else is told why not, with no modal)."""
        state = await self._open_to(user, value, (USER_INPUT,), tell, channel)
        if state is None:
            return
        prompt = render.QuestionPrompt(
            started_by=state.record.started_by,
            questions=restored(state.record.available_decisions),
        )
        view = render.question_modal(prompt, request_id=value)
        await self.slack.views_open(trigger_id=trigger_id, view=view)

    async def question_submitted(
        self,
        *,
        user: str,
        request_id: str,
        values: dict[str, Any],
        tell: Callable[[str], Awaitable[None]],
    ) -> None:
        """The answer modal was submitted (``values``: its ``state.values``). The user is
        checked again: a modal stays open while the turn's starter or the lists change."""
        state = await self._open_to(user, request_id, (USER_INPUT,), tell, None)
        if state is None:
            return
        answers = view_answers(restored(state.record.available_decisions), values)
        if answers is None:
            await tell("Every question needs an answer: nothing was sent to Codex.")
            return
        await self._decide(request_id, json.dumps(answers), user, tell)

    async def _open_to(
        self,
        user: str,
        approval_id: str,
        methods: tuple[str, ...],
        tell: Callable[[str], Awaitable[None]],
        channel: str | None,
    ) -> ApprovalState | None:
        """The pending request ``approval_id`` if ``user`` may answer it from ``channel``
        (None: not checked), else None and ``tell`` says why not."""
        state = await self.store.get_approval(approval_id)
        if state is None:
            await tell("⌛ This request is no longer pending.")
            return None
        if state.decision is not None:
            await tell(_already(state))
            return None
        record = state.record
        if record.method not in methods:
            await tell("That button is out of date.")
            return None
        if channel is not None and channel != record.channel:
            await tell("That button belongs to a request in another channel: nothing was decided.")
            return None
        refused = await self.access.may_approve(
            user, started_by=record.started_by, channel=record.channel
        )
        if refused is not None:
            await tell(refused)
            return None
        return state

    async def _decide(
        self, approval_id: str, decision: str, user: str, tell: Callable[[str], Awaitable[None]]
    ) -> None:
        """Record ``decision`` unless someone answered first (then ``tell`` says who)."""
        if not await self.store.resolve_approval(approval_id, decision, user):
            latest = await self.store.get_approval(approval_id)
            if latest is not None and latest.decision is not None:
                await tell(_already(latest))
            return
        # The holder may be this replica: spare it the pub/sub round trip.
        self._deliver(
            ApprovalDecision(
                approval_id=approval_id, decision=decision, user=user, decided_at=time.time()
            )
        )

    # -- the decisions subscription -----------------------------------------------------------

    async def _register(self, approval_id: str, waiter: _Waiter) -> None:
        """Wait for ``approval_id``'s decision from now on (subscribed when this returns)."""
        self._waiters[approval_id] = waiter
        if self._listener is None or self._listener.done():
            self._subscribed.clear()
            self._listener = asyncio.create_task(self._listen(), name="approval-decisions")
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await self._subscribed.wait()
        except TimeoutError:
            raise redis.exceptions.ConnectionError("no approvals subscription") from None

    def _unregister(self, approval_id: str) -> None:
        self._waiters.pop(approval_id, None)
        if not self._waiters and self._listener is not None:
            # Nothing left to wait for: drop the subscription (and its Redis connection).
            self._listener.cancel()
            self._listener = None

    async def _listen(self) -> None:
        """Follow the decisions channel while anyone waits, resubscribing with backoff
        whenever it breaks (Redis trouble, or a message that does not parse), so the waiting
        approvals keep hearing their decisions."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(multiplier=0.5, max=10.0),
            before_sleep=self._subscription_lost,
        )
        async for attempt in retrying:
            with attempt:
                await self._follow_decisions()

    async def _follow_decisions(self) -> None:
        async with self.store.approval_decisions() as decisions:
            self._subscribed.set()
            # Decisions published while we were not subscribed are in Redis.
            for approval_id in list(self._waiters):
                state = await self.store.get_approval(approval_id)
                if state is not None and state.decision is not None:
                    self._deliver(state.decision)
            async for decision in decisions:
                self._deliver(decision)
        raise redis.exceptions.ConnectionError("the approval decisions subscription ended")

    def _subscription_lost(self, state: RetryCallState) -> None:
        self._subscribed.clear()
        failure = state.outcome.exception() if state.outcome is not None else None
        log.warning("approval decisions subscription lost (%s)", type(failure).__name__)

    def _deliver(self, decision: ApprovalDecision) -> None:
        waiter = self._waiters.get(decision.approval_id)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(decision)


_APPROVALS: Final = (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL)


def _command_line(details: CommandExecutionApproval) -> str | None:
    """The command to show: the parsed actions' commands when Codex gave them, else the raw one."""
    shown = [a.command for a in details.command_actions or [] if a.command is not None]
    if shown and len(shown) == len(details.command_actions or []):
        return " && ".join(shown)
    return details.command


def _already(state: ApprovalState) -> str:
    """Why a request can no longer be answered: someone did, or it expired."""
    decision = state.decision
    question = state.record.method == USER_INPUT
    if decision is None or decision.decision == EXPIRED or not decision.user:
        return "⌛ This question expired." if question else "⌛ This approval request expired."
    if question:
        return f"This question was already answered by <@{decision.user}>."
    label = render.decision_label(json.loads(decision.decision))
    return f"This request was already answered: <@{decision.user}> chose *{label}*."

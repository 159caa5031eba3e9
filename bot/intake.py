"""Slack's message events in: which are mentions of the bot, and what becomes of each.

An ``app_mention`` and a ``message`` event both fire for one post, and Slack retries an event
up to three times: :class:`MentionIntake` keeps one of each (claims on the ``event_id`` and on
channel + ts), lets in-thread commands (``@bot steer|stop|recap``, an empty mention) take
theirs, refuses users and channels the allowlists leave out, and hands the rest to the bridge.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import redis.exceptions

from bot import render
from bot.access import Access
from bot.bridge import Bridge
from bot.mentions import Mention, parse_mention
from bot.replies import PrivateReplies, Requester
from bot.store import Store

log = logging.getLogger(__name__)


class ThreadCommands(Protocol):
    """Takes a mention that is a command, not a request (True); False lets it become a turn."""

    async def __call__(self, mention: Mention) -> bool: ...


class MentionIntake:
    """From a Slack message event to a queued mention (or a command, or a refusal)."""

    def __init__(
        self,
        *,
        store: Store,
        access: Access,
        replies: PrivateReplies,
        bridge: Bridge,
        thread_commands: ThreadCommands,
        bot_user_id: str,
    ) -> None:
        self.store = store
        self.access = access
        self.replies = replies
        self.bridge = bridge
        self.thread_commands = thread_commands
        self.bot_user_id = bot_user_id

    async def on_message_event(self, event: dict[str, Any], *, event_id: str, team: str) -> None:
        """An ``app_mention`` or ``message`` event: run it as a mention if it is one for us."""
        try:
            mention = parse_mention(event, team=team, bot_user_id=self.bot_user_id)
        except (KeyError, TypeError, ValueError):
            log.warning("ignored a malformed event %s", event_id)
            return
        if mention is None:
            return
        try:
            if not await self.store.claim_event(event_id):
                return
            if not await self.store.claim_message(mention.channel, mention.ts):
                return
        except redis.exceptions.RedisError:
            log.exception("Redis unreachable while handling event %s", event_id)
            await self.bridge.say(mention.thread, render.REDIS_DOWN)
            return
        if await self.thread_commands(mention):
            return
        refusal = await self.access.why_not("mention", user=mention.user, channel=mention.channel)
        if refusal is not None:
            author = Requester(mention.team, mention.user, mention.channel, mention.thread_ts)
            await self.replies.tell(author, refusal)
            return
        await self.bridge.submit(mention)

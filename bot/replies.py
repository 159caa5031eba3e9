"""What the bot says beside a reply: answers only the requester sees (a command's
``response_url``, else ``chat.postEphemeral``), and plain notices in a thread."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import slack_errors

log = logging.getLogger(__name__)


async def post_notice(
    slack: AsyncWebClient,
    channel: str,
    thread_ts: str,
    text: str,
    *,
    log_fields: Mapping[str, str] | None = None,
) -> None:
    """Post a plain line in a thread (not part of a reply); a Slack failure is not worth
    more than a log line."""
    try:
        await slack.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
    except slack_errors.FAILURES as exc:
        log.warning(
            "could not post a notice: %s",
            slack_errors.error_code(exc) or type(exc).__name__,
            extra=dict(log_fields or {}),
        )


@dataclass(frozen=True)
class Requester:
    """Who asked, and where their private answers go."""

    team: str
    user: str
    channel: str
    thread_ts: str | None = None
    """Private answers go into this thread (None: the channel)."""
    response_url: str | None = None
    """Answer through this URL when set (slash commands, clicks), else ``chat.postEphemeral``."""

    def is_in(self, team: str, channel: str) -> bool:
        """Whether the request came from ``channel`` of ``team``.

        For a click, Slack vouches for its payload's team and channel, not for the ids a
        button's value (or state kept for it) names: a button acts on a thread only when
        clicked where that thread is, so a signed click forged elsewhere reaches nothing.
        """
        return bool(team) and (self.team, self.channel) == (team, channel)


class PrivateReplies:
    """Says things to one requester, where only they can see them."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack

    def to(self, req: Requester) -> Callable[[str], Awaitable[None]]:
        """A one-argument ``tell`` bound to ``req``, for code that only has text to say."""

        async def tell(text: str) -> None:
            await self.tell(req, text)

        return tell

    async def tell(
        self,
        req: Requester,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        replace_original: bool = False,
    ) -> None:
        """Show ``text`` (and ``blocks``) to the requester only."""
        if req.response_url:
            # The bot's pooled HTTP session when it has one, rather than a session per answer.
            webhook = AsyncWebhookClient(req.response_url, session=self.slack.session)
            response = await webhook.send(
                text=text,
                blocks=blocks,
                response_type="ephemeral",
                replace_original=replace_original,
            )
            if response.status_code == 200:
                return
            log.warning("a response_url refused an answer (HTTP %s)", response.status_code)
        kwargs: dict[str, Any] = {"channel": req.channel, "user": req.user, "text": text}
        if blocks is not None:
            kwargs["blocks"] = blocks
        if req.thread_ts:
            kwargs["thread_ts"] = req.thread_ts
        try:
            await self.slack.chat_postEphemeral(**kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("could not answer %s privately: %s", req.user, error)

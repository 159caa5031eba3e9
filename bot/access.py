"""Who may do what: the allowlists of :class:`bot.config.Settings`, with user groups resolved.

Allowlists may name user groups (``S…``) besides users. Membership comes from Slack's
``usergroups.users.list`` (scope ``usergroups:read``), cached for :data:`GROUP_CACHE_SECONDS`
per group so a burst of clicks costs one call. Slack is only asked when some allowlist names
a group. A group Slack will not list (missing scope, deleted group) counts as empty: access
fails closed, and the failure is logged without the token.

:meth:`Access.why_not` answers with the sentence to show a refused user, which says whether
the channel or the user is the reason; None means allowed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Action, Settings

__all__ = ["GROUP_CACHE_SECONDS", "Access"]

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS: Final = 300.0

_VERBS: Final[dict[Action, str]] = {
    "mention": "start Codex turns",
    "steer": "steer Codex turns",
    "recap": "ask for recaps",
    "stop": "stop Codex turns",
    "approve": "answer Codex's approval requests and questions",
}


class Access:
    """The allowlists, applied to one user in one channel."""

    def __init__(
        self,
        settings: Settings,
        slack: AsyncWebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.slack = slack
        self._clock = clock
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def groups_of(self, user: str) -> set[str]:
        """The configured user groups ``user`` belongs to (only groups an allowlist names)."""
        found = set()
        for group in sorted(self.settings.user_groups()):
            if user in await self._members(group):
                found.add(group)
        return found

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response = await self.slack.usergroups_users_list(usergroup=group)
            members = frozenset(str(u) for u in response.get("users") or [])
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("could not list the members of user group %s: %s", group, error)
            members = frozenset()
        self._groups[group] = (now + GROUP_CACHE_SECONDS, members)
        return members

    async def why_not(self, action: Action, *, user: str, channel: str) -> str | None:
        """None if ``user`` may do ``action`` in ``channel``, else the refusal to show them."""
        settings = self.settings
        groups = await self.groups_of(user) if settings.user_groups() else set()
        if settings.allows(action, user=user, channel=channel, user_groups=groups):
            return None
        verb = _VERBS[action]
        channel_lists = (settings.allowed_channels, getattr(settings, f"allow_{action}_channels"))
        if any(ids and channel not in ids for ids in channel_lists):
            return f"🚫 Sorry, Codex is not set up to {verb} in this channel."
        return (
            f"🚫 Sorry, you are not on the list of people who may {verb}. "
            "Ask whoever runs the Codex bot to add you."
        )

    async def may_approve(self, user: str, *, started_by: str, channel: str) -> str | None:
        """None if ``user`` may answer an approval of ``started_by``'s turn, else why not."""
        refusal = await self.why_not("approve", user=user, channel=channel)
        if refusal is not None:
            return refusal
        groups = await self.groups_of(user) if self.settings.user_groups() else set()
        if self.settings.may_approve(
            user, started_by=started_by, channel=channel, user_groups=groups
        ):
            return None
        return (
            f"🚫 Only <@{started_by}>, who started this turn, or a configured approver can "
            "answer this request."
        )

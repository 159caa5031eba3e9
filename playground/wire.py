"""Requests to the bot as Slack sends them: signed POSTs to its ``/slack/events``.

Events go as the Events API's JSON envelope, slash commands as a form, interactivity (clicks,
shortcuts, modal submissions) as a form with the JSON ``payload`` field, each with Slack's v0
signature made with the app's signing secret (the builders are
:mod:`playground.slack.payloads`'). The bot answers as it would answer Slack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from playground.slack.payloads import (
    event_callback,
    form_body,
    interactive_body,
    sign_request,
)

__all__ = ["BotAnswer", "BotLink"]


@dataclass(frozen=True)
class BotAnswer:
    """The bot's HTTP answer to one request: its status and body."""

    status: int
    body: str

    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty or not JSON, as an ack with no payload)."""
        try:
            value = json.loads(self.body) if self.body.strip() else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class BotLink:
    """Sends Slack's requests to one bot at ``events_url``, signed with ``signing_secret``."""

    def __init__(self, events_url: str, signing_secret: str, http: aiohttp.ClientSession) -> None:
        self.events_url = events_url
        self._secret = signing_secret
        self._http = http

    async def event(self, event: Mapping[str, Any]) -> BotAnswer:
        """One event (``app_mention``, ``message``…) in its ``event_callback`` envelope."""
        body = json.dumps(event_callback(event)).encode()
        return await self._post(body, "application/json")

    async def command(self, form: Mapping[str, str]) -> BotAnswer:
        """A slash command's form (see :func:`playground.slack.payloads.slash_command_form`)."""
        return await self._post(form_body(form), "application/x-www-form-urlencoded")

    async def interaction(self, payload: Mapping[str, Any]) -> BotAnswer:
        """A click, a shortcut or a modal's submission."""
        return await self._post(interactive_body(payload), "application/x-www-form-urlencoded")

    async def _post(self, body: bytes, content_type: str) -> BotAnswer:
        headers = {
            "Content-Type": content_type,
            **sign_request(body, self._secret, int(time.time())),
        }
        # Slack gives an app 3 seconds to answer; the bot acknowledges well within that.
        timeout = aiohttp.ClientTimeout(total=10)
        async with self._http.post(
            self.events_url, data=body, headers=headers, timeout=timeout
        ) as response:
            return BotAnswer(response.status, await response.text())

"""Codex's approval requests as Slack messages with decision buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.store import Store
from codex_client import ApprovalRequest

if TYPE_CHECKING:
    from bot.bridge import Bridge


class Approvals:
    """Posts approval prompts and answers Codex with the decision a permitted user picks."""

    def __init__(self, *, store: Store, slack: AsyncWebClient, settings: Settings) -> None:
        self.store = store
        self.slack = slack
        self.settings = settings
        self.bridge: Bridge | None = None

    async def handle(self, request: ApprovalRequest) -> dict[str, Any]:
        """Answer one server->client request (not wired to Slack yet: declines)."""
        return {"decision": "decline"}

"""Slash commands, buttons and shortcuts: /steer, /recap, Stop and approval answers.

The in-thread forms (``@bot steer …``, ``@bot stop``, ``@bot recap``) arrive as mentions and
are routed here by the bridge through :meth:`Commands.in_thread`.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from bot.approvals import Approvals
from bot.bridge import Bridge, Mention

log = logging.getLogger(__name__)


class Commands:
    """Every user action other than a plain mention."""

    ACTION_IDS: ClassVar[tuple[str, ...]] = ("stop_turn",)

    def __init__(self, *, bridge: Bridge, approvals: Approvals) -> None:
        self.bridge = bridge
        self.approvals = approvals

    async def in_thread(self, mention: Mention) -> bool:
        """Handle ``mention`` if it is an in-thread command; False lets it become a turn."""
        return False

    async def steer_command(self, command: dict[str, Any]) -> None:
        log.info("/steer is not wired yet")

    async def recap_command(self, command: dict[str, Any]) -> None:
        log.info("/recap is not wired yet")

    async def action(self, body: dict[str, Any]) -> None:
        log.info("actions are not wired yet")

    async def steer_shortcut(self, body: dict[str, Any]) -> None:
        log.info("shortcuts are not wired yet")

    async def recap_shortcut(self, body: dict[str, Any]) -> None:
        log.info("shortcuts are not wired yet")

    async def steer_submitted(self, body: dict[str, Any]) -> None:
        log.info("modals are not wired yet")

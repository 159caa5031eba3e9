"""Requests the server sends to the client, such as approval prompts.

While a turn runs, the server may ask the client something — may this command run, may
this file change be applied — and the turn waits for the answer. Each such request reaches
the pool's :data:`ApprovalHandler` as an :class:`ApprovalRequest`; whatever dict the
handler returns is sent back as the JSON-RPC result (for approvals,
``{"decision": "accept"}`` or ``{"decision": "decline"}``, …). A handler that raises, or a
pool without a handler, answers with a JSON-RPC error, which the server treats as a
refusal: an unanswered request would stall the turn forever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"


@dataclass
class ApprovalRequest:
    """One server-to-client request, with the ids needed to route it to a conversation."""

    method: str
    request_id: int | str
    thread_id: str | None
    turn_id: str | None
    params: dict[str, Any]
    endpoint_key: str

    @property
    def item_id(self) -> str | None:
        """The item (command, file change…) the request is about, when it names one."""
        value = self.params.get("itemId")
        return value if isinstance(value, str) else None

    @property
    def command(self) -> str | None:
        """The command line awaiting approval (command approvals only)."""
        value = self.params.get("command")
        return value if isinstance(value, str) else None

    @property
    def reason(self) -> str | None:
        """The model's stated reason, when it gave one."""
        value = self.params.get("reason")
        return value if isinstance(value, str) else None

    @property
    def available_decisions(self) -> list[Any]:
        """The decisions the server offers (strings or objects); empty when it lists none."""
        value = self.params.get("availableDecisions")
        return list(value) if isinstance(value, list) else []


ApprovalHandler = Callable[[ApprovalRequest], Awaitable[dict[str, Any]]]

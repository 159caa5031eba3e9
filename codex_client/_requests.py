"""Requests from the server to the client: approval prompts and the like.

Each one reaches the pool's :data:`ApprovalHandler` as an :class:`ApprovalRequest`: the ids
that route it (thread, turn, endpoint), the raw ``params``, and :attr:`ApprovalRequest.details`,
the params typed by method: :class:`CommandExecutionApproval`,
:class:`FileChangeApproval`, :class:`PermissionsApproval`, or :class:`GenericRequest` for
any other method, and for params that do not fit their model (typing never fails a request).

Whatever dict the handler returns is sent back as the JSON-RPC result
(``{"decision": "accept"}``, ``{"decision": "decline"}``…). A handler that raises, or
returns something that cannot be sent, and a pool without a handler, answer with a JSON-RPC
error, which the server takes as a refusal: an unanswered request would stall the turn
forever. If the connection drops while a handler runs, the handler's task is cancelled (its
answer could no longer be delivered); after the reconnect the server may ask again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field, ValidationError

from ._models import CommandAction, _Model

logger = logging.getLogger("codex_client.requests")


class CommandExecutionApproval(_Model):
    """``item/commandExecution/requestApproval``: may the agent run ``command`` in ``cwd``?

    ``command_actions`` is the command parsed for display, when the server could;
    ``available_decisions`` what the server accepts as the answer's ``decision``, in order
    (strings such as ``"accept"``, or tagged objects such as
    ``{"acceptWithExecpolicyAmendment": {...}}``), None when it does not say.
    """

    METHOD: ClassVar[str] = "item/commandExecution/requestApproval"
    thread_id: str
    turn_id: str
    item_id: str | None = None
    approval_id: str | None = None
    command: str | None = None
    cwd: str | None = None
    command_actions: list[CommandAction] | None = None
    reason: str | None = None
    available_decisions: list[str | dict[str, Any]] | None = None
    proposed_execpolicy_amendment: list[str] | None = None


class FileChangeApproval(_Model):
    """``item/fileChange/requestApproval``: may the agent apply the file change ``item_id``?

    The files themselves are in that item (a :class:`FileChangeItem`, from its
    ``item/started`` event), not here.
    """

    METHOD: ClassVar[str] = "item/fileChange/requestApproval"
    thread_id: str
    turn_id: str
    item_id: str | None = None
    reason: str | None = None
    grant_root: str | None = None


class PermissionsApproval(_Model):
    """``item/permissions/requestApproval``: may the agent have ``permissions`` (a profile
    of filesystem and network grants) in ``cwd``?"""

    METHOD: ClassVar[str] = "item/permissions/requestApproval"
    thread_id: str
    turn_id: str
    item_id: str | None = None
    cwd: str | None = None
    permissions: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None


class GenericRequest(_Model):
    """Any other server request, or one whose params do not fit their model: every param
    is an extra, under its wire name."""


ApprovalDetails = (
    CommandExecutionApproval | FileChangeApproval | PermissionsApproval | GenericRequest
)

_TYPED: dict[str, type[_Model]] = {
    cls.METHOD: cls for cls in (CommandExecutionApproval, FileChangeApproval, PermissionsApproval)
}


def parse_request(method: str, params: dict[str, Any]) -> ApprovalDetails:
    """The typed params of a server request; never raises."""
    cls = _TYPED.get(method)
    if cls is not None:
        try:
            details: ApprovalDetails = cls.model_validate(params)  # type: ignore[assignment]
        except ValidationError as exc:
            logger.warning("%s params do not fit: %s", method, exc.errors()[:1])
        else:
            return details
    return GenericRequest.model_validate(params)


@dataclass
class ApprovalRequest:
    """One server-to-client request, with the ids needed to route it to a conversation."""

    method: str
    request_id: int | str
    thread_id: str | None
    turn_id: str | None
    params: dict[str, Any]
    """The params as received (camelCase keys); :attr:`details` is their typed form."""
    endpoint_key: str
    details: ApprovalDetails = field(init=False, repr=False, compare=False)
    """The params typed by ``method``, converted once when the request arrives."""

    def __post_init__(self) -> None:
        self.details = parse_request(self.method, self.params)


ApprovalHandler = Callable[[ApprovalRequest], Awaitable[dict[str, Any]]]

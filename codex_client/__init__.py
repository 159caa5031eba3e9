"""A client for the OpenAI Codex app-server (JSON-RPC over WebSocket or stdio).

Start with :class:`CodexPool`: it connects to one or more endpoints, starts and resumes
threads, and hands out :class:`ThreadHandle` and :class:`TurnHandle` objects whose
``events()`` stream a turn's typed events, whose items are typed too (:data:`ThreadItem`:
:class:`AgentMessageItem`, :class:`CommandExecutionItem`…; match on the class). Requests
from the server (approvals) reach the pool's handler as :class:`ApprovalRequest`, typed by
method in its ``details``. Everything raised derives from :class:`CodexError`. Nothing here
imports the Slack bot: this package stands alone. :mod:`codex_client.testing` holds the
test doubles (an in-memory transport, a scriptable fake app-server).

The names below are the whole public API. The modules behind them (``_pool``,
``_connection``…) are private: import from ``codex_client`` itself, never from a submodule
(ruff enforces this outside the package and its tests).
"""

from ._auth import CapabilityTokenAuth, NoAuth, SignedBearerTokenAuth
from ._errors import (
    AuthError,
    CodexError,
    ConnectionLost,
    NoActiveTurn,
    ProtocolError,
    RequestTimeout,
    RpcError,
    ServerOverloaded,
    ThreadNotFound,
    TransportError,
    TurnLost,
    TurnMismatch,
)
from ._events import (
    AgentMessageDelta,
    ItemCompleted,
    ItemStarted,
    OtherNotification,
    TurnCompleted,
    TurnErrorEvent,
    TurnEvent,
    TurnStarted,
)
from ._models import (
    AgentMessageItem,
    CommandAction,
    CommandExecutionItem,
    FileChangeItem,
    FileUpdateChange,
    ImageUserInput,
    LocalImageUserInput,
    McpToolCallItem,
    PatchChangeKind,
    PlanItem,
    ReasoningItem,
    TextUserInput,
    ThreadItem,
    Turn,
    TurnError,
    TurnResult,
    TurnsPage,
    UnknownItem,
    UnknownUserInput,
    UserInput,
    UserMessageItem,
    WebSearchItem,
)
from ._pool import CodexPool
from ._requests import (
    ApprovalHandler,
    ApprovalRequest,
    CommandExecutionApproval,
    FileChangeApproval,
    GenericRequest,
    PermissionsApproval,
)
from ._retry import Backoff
from ._threads import ThreadHandle, TurnHandle, TurnPager
from ._transport import Endpoint, TlsOptions, Transport, TransportFactory

__all__ = [
    "AgentMessageDelta",
    "AgentMessageItem",
    "ApprovalHandler",
    "ApprovalRequest",
    "AuthError",
    "Backoff",
    "CapabilityTokenAuth",
    "CodexError",
    "CodexPool",
    "CommandAction",
    "CommandExecutionApproval",
    "CommandExecutionItem",
    "ConnectionLost",
    "Endpoint",
    "FileChangeApproval",
    "FileChangeItem",
    "FileUpdateChange",
    "GenericRequest",
    "ImageUserInput",
    "ItemCompleted",
    "ItemStarted",
    "LocalImageUserInput",
    "McpToolCallItem",
    "NoActiveTurn",
    "NoAuth",
    "OtherNotification",
    "PatchChangeKind",
    "PermissionsApproval",
    "PlanItem",
    "ProtocolError",
    "ReasoningItem",
    "RequestTimeout",
    "RpcError",
    "ServerOverloaded",
    "SignedBearerTokenAuth",
    "TextUserInput",
    "ThreadHandle",
    "ThreadItem",
    "ThreadNotFound",
    "TlsOptions",
    "Transport",
    "TransportError",
    "TransportFactory",
    "Turn",
    "TurnCompleted",
    "TurnError",
    "TurnErrorEvent",
    "TurnEvent",
    "TurnHandle",
    "TurnLost",
    "TurnMismatch",
    "TurnPager",
    "TurnResult",
    "TurnStarted",
    "TurnsPage",
    "UnknownItem",
    "UnknownUserInput",
    "UserInput",
    "UserMessageItem",
    "WebSearchItem",
]

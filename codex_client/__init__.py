"""A client for the OpenAI Codex app-server (JSON-RPC over WebSocket or stdio).

Start with :class:`CodexPool`: it connects to one or more endpoints, starts and resumes
threads, and hands out :class:`ThreadHandle` and :class:`TurnHandle` objects whose
``events()`` stream a turn's typed events. Everything raised derives from
:class:`CodexError`. Nothing here imports the Slack bot: this package stands alone.

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
from ._models import (
    AgentMessageDelta,
    ApprovalHandler,
    ApprovalRequest,
    ItemCompleted,
    ItemStarted,
    OtherNotification,
    ThreadItem,
    Turn,
    TurnCompleted,
    TurnError,
    TurnErrorEvent,
    TurnEvent,
    TurnResult,
    TurnsPage,
    TurnStarted,
)
from ._pool import CodexPool
from ._retry import Backoff
from ._threads import ThreadHandle, TurnHandle, TurnPager
from ._transport import Endpoint, TlsOptions, Transport, TransportFactory

__all__ = [
    "AgentMessageDelta",
    "ApprovalHandler",
    "ApprovalRequest",
    "AuthError",
    "Backoff",
    "CapabilityTokenAuth",
    "CodexError",
    "CodexPool",
    "ConnectionLost",
    "Endpoint",
    "ItemCompleted",
    "ItemStarted",
    "NoActiveTurn",
    "NoAuth",
    "OtherNotification",
    "ProtocolError",
    "RequestTimeout",
    "RpcError",
    "ServerOverloaded",
    "SignedBearerTokenAuth",
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
]

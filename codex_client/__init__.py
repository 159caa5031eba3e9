"""A client for the OpenAI Codex app-server (JSON-RPC over WebSocket or stdio).

Start with :class:`CodexPool`: it connects to one or more endpoints, starts and resumes
threads, and hands out :class:`ThreadHandle` and :class:`TurnHandle` objects whose
``events()`` stream a turn's typed events. Everything raised derives from
:class:`CodexError`. Nothing here imports the Slack bot: this package stands alone.
"""

from .auth import CapabilityTokenAuth, NoAuth, SignedBearerTokenAuth
from .errors import (
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
from .models import (
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
from .pool import CodexPool
from .retry import Backoff
from .threads import ThreadHandle, TurnHandle, TurnPager
from .transport import Endpoint, TlsOptions

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
    "TransportError",
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

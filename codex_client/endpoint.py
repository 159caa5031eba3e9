"""Where an app-server is, and how to reach it.

An :class:`Endpoint` is either a WebSocket URL (``ws://`` or ``wss://``), or — with
``url=None`` — a command to spawn that speaks the protocol over its stdin/stdout. Endpoints
are plain frozen data, safe to log: credentials live in files named by ``auth``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .auth import Auth, NoAuth

STDIO_KEY = "stdio"


@dataclass(frozen=True)
class TlsOptions:
    """TLS settings for ``wss://`` endpoints.

    ``ca_file`` adds a CA bundle to trust (a private CA, say); ``verify=False`` disables
    certificate and host-name checks, for tests only.
    """

    ca_file: Path | str | None = None
    verify: bool = True


@dataclass(frozen=True)
class Endpoint:
    """One app-server: a WebSocket ``url``, or ``url=None`` to spawn ``command`` over stdio.

    ``env`` (added to the current environment) and ``cwd`` apply to the stdio child only;
    ``auth`` and ``tls`` to WebSocket endpoints only.
    """

    url: str | None
    auth: Auth = field(default_factory=NoAuth)
    tls: TlsOptions | None = None
    command: Sequence[str] = ("codex", "app-server")
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | None = None

    def __post_init__(self) -> None:
        if self.url is not None and not self.url.startswith(("ws://", "wss://")):
            raise ValueError(f"an endpoint URL must start with ws:// or wss://, not {self.url!r}")
        if self.url is None and not self.command:
            raise ValueError("a stdio endpoint needs a command")
        # A list would make the frozen dataclass unhashable; a tuple keeps it a value.
        object.__setattr__(self, "command", tuple(self.command))

    @property
    def key(self) -> str:
        """Stable identity used to pin threads: ``"stdio"`` for stdio, else the URL."""
        return STDIO_KEY if self.url is None else self.url

    def __hash__(self) -> int:
        return hash((self.url, self.auth, self.tls, self.command, self.cwd))

"""Where an app-server is, and moving frames to and from it: WebSocket or a child's stdio.

An :class:`Endpoint` is either a WebSocket URL (``ws://`` or ``wss://``), or — with
``url=None`` — a command to spawn that speaks the protocol over its stdin/stdout. Endpoints
are plain frozen data, safe to log: credentials live in files named by ``auth``.

A transport sends and receives whole frames (one JSON object each) and knows nothing of
their meaning. Failures are mapped to the client's errors at this boundary: HTTP 401 on
the upgrade is :class:`AuthError`; anything else that stops a connect is
:class:`TransportError`; a transport that closes under an open connection raises
:class:`ConnectionLost` from :meth:`Transport.recv` and :meth:`Transport.send`.

WebSocket notes: the app-server answers 403 to any upgrade carrying an ``Origin`` header,
so none is sent; messages have no size cap (a ``thread/read`` can be huge); compression is
off, as it costs more CPU than it saves on the loopback and in-cluster links this targets;
proxies from the environment are ignored (the server is reached directly). The
``websockets`` library logs request headers at DEBUG level, so it gets a logger that
redacts ``Authorization``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from ._auth import Auth, NoAuth
from ._errors import AuthError, ConnectionLost, TransportError

logger = logging.getLogger("codex_client.transport")

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


# Stdio frames are single lines; a thread/read of a long thread is many megabytes.
STDIO_LINE_LIMIT = 256 * 1024 * 1024


class Transport(Protocol):
    """A bidirectional stream of frames."""

    async def send(self, frame: str) -> None:
        """Send one frame; raises ConnectionLost if the transport is gone."""

    async def recv(self) -> str | bytes:
        """The next frame; raises ConnectionLost once the transport is gone."""

    async def close(self) -> None:
        """Close the transport; idempotent."""


TransportFactory = Callable[[Endpoint], Awaitable[Transport]]
"""Opens a transport to an endpoint in place of the WebSocket or stdio one (a test double's,
such as :meth:`codex_client.testing.FakeAppServer.connect`); raises TransportError (or
AuthError) when it cannot."""


async def open_transport(endpoint: Endpoint, *, open_timeout: float) -> Transport:
    """Connect to ``endpoint`` (or spawn its command)."""
    if endpoint.url is None:
        return await StdioTransport.spawn(endpoint)
    return await WebSocketTransport.connect(endpoint, open_timeout=open_timeout)


class _RedactingLogger(logging.LoggerAdapter[logging.Logger]):
    """Passes websockets' log records through, with credentials blanked out."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if len(args) >= 2 and str(args[0]).lower() in ("authorization", "cookie"):
            args = (args[0], "[redacted]", *args[2:])
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs


_WS_LOGGER = _RedactingLogger(logging.getLogger("websockets.client"))


def _ssl_context(url: str, tls: TlsOptions | None) -> ssl.SSLContext | None:
    if not url.startswith("wss://"):
        return None
    tls = tls or TlsOptions()
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class WebSocketTransport:
    """One WebSocket connection; one text frame per message."""

    def __init__(self, ws: ClientConnection, url: str) -> None:
        self._ws = ws
        self._url = url

    @classmethod
    async def connect(cls, endpoint: Endpoint, *, open_timeout: float) -> WebSocketTransport:
        """Open the WebSocket, sending fresh credentials from ``endpoint.auth``."""
        url = endpoint.url
        assert url is not None
        headers = endpoint.auth.headers()
        try:
            ws = await connect(
                url,
                additional_headers=headers,
                ssl=_ssl_context(url, endpoint.tls),
                max_size=None,
                compression=None,
                proxy=None,
                open_timeout=open_timeout,
                logger=_WS_LOGGER,
                user_agent_header="codex-client (python)",
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise AuthError(f"{url} refused the credentials (HTTP 401)") from exc
            raise TransportError(f"{url} refused the WebSocket upgrade (HTTP {status})") from exc
        except InvalidURI as exc:
            raise TransportError(f"invalid endpoint URL {url!r}: {exc}") from exc
        except (OSError, WebSocketException, TimeoutError) as exc:
            # OSError covers refused connections and TLS failures (ssl.SSLError); the
            # websockets base class, a handshake the server botched.
            raise TransportError(f"cannot connect to {url}: {exc or type(exc).__name__}") from exc
        return cls(ws, url)

    async def send(self, frame: str) -> None:
        try:
            await self._ws.send(frame)
        except (ConnectionClosed, OSError) as exc:
            raise ConnectionLost(f"connection to {self._url} closed: {exc}") from exc

    async def recv(self) -> str | bytes:
        try:
            return await self._ws.recv()
        except (ConnectionClosed, OSError) as exc:
            raise ConnectionLost(f"connection to {self._url} closed: {exc}") from exc

    async def close(self) -> None:
        await self._ws.close()


class StdioTransport:
    """A spawned ``codex app-server`` child: JSON lines on stdin/stdout.

    Its stderr (Codex's logs) is drained into the ``codex_client.stdio`` logger; an
    undrained pipe would fill up and block the child.
    """

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self._proc = proc
        self._name = name
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self._stderr_task = asyncio.create_task(self._drain_stderr(proc.stderr))

    @classmethod
    async def spawn(cls, endpoint: Endpoint) -> StdioTransport:
        """Start the endpoint's command with its env and cwd."""
        env = {**os.environ, **(endpoint.env or {})}
        name = os.path.basename(endpoint.command[0])
        try:
            proc = await asyncio.create_subprocess_exec(
                *endpoint.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=endpoint.cwd,
                limit=STDIO_LINE_LIMIT,
            )
        except OSError as exc:
            raise TransportError(f"cannot start {name}: {exc.strerror or exc}") from exc
        return cls(proc, name)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._proc.pid

    async def _drain_stderr(self, stderr: asyncio.StreamReader) -> None:
        log = logging.getLogger("codex_client.stdio")
        while line := await stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            level = logging.WARNING if (" ERROR " in text or " WARN " in text) else logging.DEBUG
            log.log(level, "%s[%d]: %s", self._name, self._proc.pid, text)

    async def send(self, frame: str) -> None:
        try:
            self._stdin.write(frame.encode() + b"\n")
            await self._stdin.drain()
        except (OSError, RuntimeError) as exc:
            # BrokenPipeError and ConnectionResetError; RuntimeError once the pipe is closed.
            raise ConnectionLost(f"{self._name} stdin closed: {exc}") from exc

    async def recv(self) -> str | bytes:
        try:
            line = await self._stdout.readline()
        except (ValueError, asyncio.LimitOverrunError) as exc:
            raise ConnectionLost(f"{self._name} sent an oversized line: {exc}") from exc
        except OSError as exc:
            raise ConnectionLost(f"{self._name} stdout failed: {exc}") from exc
        if not line:
            code = await self._proc.wait()
            raise ConnectionLost(f"{self._name} exited with code {code}")
        return line

    async def close(self) -> None:
        if not self._stdin.is_closing():
            self._stdin.close()
        if self._proc.returncode is None:
            # Closing stdin asks the server to exit; give it a moment before insisting.
            try:
                await asyncio.wait_for(self._proc.wait(), 2.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
                await self._proc.wait()
        # A grandchild may still hold stderr open; don't wait on it for long.
        done, _ = await asyncio.wait({self._stderr_task}, timeout=2.0)
        if not done:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task

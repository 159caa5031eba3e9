"""The real, pinned Codex app-server as a test peer, wired to the scripted model.

:class:`CodexServer` writes a private ``CODEX_HOME`` whose ``config.toml`` points Codex at a
:class:`~playground.model.scripted.ModelServer` on 127.0.0.1, with the two features that
would otherwise reach the internet or run login shells switched off, then runs
``codex app-server --listen ws://127.0.0.1:<port>`` with the chosen WebSocket auth. The bound
port is read from the server's own banner (no polling), and :meth:`CodexServer.restart`
brings it back on the same port and home, as a crashed-and-restarted server would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from playground.codex_home import ASK_FEATURES, write_codex_home

__all__ = [
    "ASK_FEATURES",
    "JWT_AUDIENCE",
    "JWT_ISSUER",
    "AuthMode",
    "CodexServer",
    "codex_env",
    "write_codex_home",
]

AuthMode = Literal["none", "capability-token", "signed-bearer-token"]

JWT_ISSUER = "codex-slack-tests"
JWT_AUDIENCE = "codex-app-server-tests"

_LISTENING = re.compile(rb"listening on: ws://127\.0\.0\.1:(\d+)")


def codex_env(home: Path) -> dict[str, str]:
    """The environment the app-server runs with: its home and the fake model's key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env.update({"CODEX_HOME": str(home), "FAKE_API_KEY": "dummy", "RUST_LOG": "warn"})
    return env


@dataclass
class CodexServer:
    """One real app-server process; ``async with CodexServer(...) as server``."""

    binary: Path
    model_base_url: str
    workdir: Path
    auth: AuthMode = "none"
    approval_policy: str = "never"
    features: Mapping[str, bool] = field(default_factory=dict)
    """Extra ``[features]`` flags of its ``config.toml`` (e.g. :data:`ASK_FEATURES`)."""
    extra_config: str = ""
    """TOML appended to its ``config.toml`` (e.g. an MCP server's table)."""

    def __post_init__(self) -> None:
        self.home = self.workdir / "codex-home"
        self.cwd = self.workdir / "cwd"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.token_file = self.workdir / "capability-token"
        self.secret_file = self.workdir / "jwt-secret"
        # A trailing newline on purpose: both sides must trim it.
        self.token_file.write_text(secrets.token_hex(24) + "\n")
        self.secret_file.write_text(secrets.token_urlsafe(48) + "\n")
        write_codex_home(
            self.home,
            self.model_base_url,
            self.approval_policy,
            features=self.features,
            extra_config=self.extra_config,
        )
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None
        self.output = bytearray()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self, listen: str | None) -> list[str]:
        """The app-server command line: WebSocket on ``listen``, or stdio when None."""
        cmd = [str(self.binary), "app-server"]
        if listen is None:
            return cmd
        cmd += ["--listen", listen]
        if self.auth == "capability-token":
            cmd += ["--ws-auth", "capability-token", "--ws-token-file", str(self.token_file)]
        elif self.auth == "signed-bearer-token":
            cmd += [
                "--ws-auth",
                "signed-bearer-token",
                "--ws-shared-secret-file",
                str(self.secret_file),
                "--ws-issuer",
                JWT_ISSUER,
                "--ws-audience",
                JWT_AUDIENCE,
            ]
        return cmd

    @property
    def env(self) -> dict[str, str]:
        return codex_env(self.home)

    async def start(self) -> None:
        """Start listening (on a fresh port the first time, the same port after that)."""
        listen = f"ws://127.0.0.1:{self.port}"
        self._proc = await asyncio.create_subprocess_exec(
            *self.command(listen),
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stderr is not None
        stderr = self._proc.stderr
        while True:
            line = await asyncio.wait_for(stderr.readline(), timeout=30)
            if not line:
                raise RuntimeError(f"codex app-server exited at start:\n{self.output.decode()}")
            self.output += line
            match = _LISTENING.search(line)
            if match:
                self.port = int(match.group(1))
                break
        self._drain = asyncio.create_task(self._drain_output(stderr))

    async def _drain_output(self, stderr: asyncio.StreamReader) -> None:
        # The pipe must keep flowing or the server blocks on its own logging.
        while line := await stderr.readline():
            self.output += line

    async def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        await self._stop(signal.SIGKILL)

    async def stop(self) -> None:
        await self._stop(signal.SIGTERM)

    def terminate(self) -> None:
        """Send SIGTERM and return: a WebSocket server then drains, finishing running turns
        before it exits (see :meth:`exited`)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)

    async def exited(self, timeout: float = 30.0) -> int:
        """Wait for the server process to end by itself; its exit code."""
        assert self._proc is not None
        code = await asyncio.wait_for(self._proc.wait(), timeout)
        await self._stop(signal.SIGKILL)  # reap the output drain; the process is gone
        return code

    async def _stop(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(sig)
            try:
                # A WebSocket server drains on SIGTERM: it waits for running turns to end.
                await asyncio.wait_for(self._proc.wait(), 10.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
                await self._proc.wait()
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await self._drain
        self._proc = None

    async def restart(self) -> None:
        """Stop (if running) and start again on the same port and ``CODEX_HOME``."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> CodexServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

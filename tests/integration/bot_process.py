"""The bot as a real child process, for crash and deploy tests.

:class:`BotProcess` runs ``python -m bot serve --http --port <port>`` (what ``codex-slack serve``
runs) with its settings in environment variables, against the same peers as
:class:`~tests.integration.bot_harness.BotHarness`: the Slack fake, a real Redis and the real
Codex app-server. Unlike the in-process harness it can die the way a deployed bot dies:
:meth:`BotProcess.kill` (SIGKILL, a crash or OOM kill), :meth:`BotProcess.terminate` (SIGTERM, a
deploy), then :meth:`BotProcess.restart`. Several may run at once against one Slack fake, one
app-server and one Redis, as replicas. Tests drive it with the signed-request helpers of
:class:`~tests.integration.bot_harness.SlackRequests` (``mention``, ``slash_command``,
``interact``).

The child's stdout and stderr (the bot's JSON logs) go to :attr:`BotProcess.log_path`, one file
per process across restarts; :meth:`BotProcess.log_tail` is in every start failure's message.
The child runs in the log's directory with every bot setting stripped from the inherited
environment, so neither a developer's ``.env`` nor their exported settings leak in.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings
from playground.slack.api import SlackFake
from tests.conftest import PROJECT_ROOT, free_port
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import (
    BOT_TOKEN,
    EDIT_DELIVERY,
    SIGNING_SECRET,
    TIMING,
    SlackRequests,
)

START_TIMEOUT = 60.0
"""Seconds a process may take to answer ``/healthz`` (imports, Slack auth, Codex handshake)."""


class BotProcessError(RuntimeError):
    """The bot process did not start (its log's tail is in the message)."""


def bot_process_env(
    slack: SlackFake, codex: CodexServer, redis_url: str, /, **extra: Any
) -> dict[str, str]:
    """The bot's settings as environment variables, pointing at the test peers.

    ``extra`` adds or overrides settings by field or variable name (``codex_request_timeout=2``
    or ``CODEX_REQUEST_TIMEOUT="2"``); booleans become ``true``/``false``, lists and dicts JSON.
    """
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "CODEX_URL": codex.url,
        "CODEX_AUTH": "none",
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
        **{name.upper(): value for name, value in {**TIMING, **EDIT_DELIVERY}.items()},
    }
    values.update({name.upper(): value for name, value in extra.items()})
    return {name: _env_value(value) for name, value in values.items()}


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Path):
        return str(value)
    return json.dumps(value)


class BotProcess(SlackRequests):
    """One bot process on a fixed port (kept across restarts); ``env`` holds its settings."""

    def __init__(
        self, slack: SlackFake, env: Mapping[str, str], log_path: Path, *, port: int | None = None
    ) -> None:
        self.slack = slack
        self.env = dict(env)
        self.log_path = log_path
        self.port = port if port is not None else free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        """Processes started so far (a restart makes it grow)."""

    # -- where it listens -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def running(self) -> bool:
        """Whether the current process has been started and has not exited."""
        return self.process is not None and self.process.returncode is None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start a process and wait until ``GET /healthz`` answers 200.

        Raises :class:`BotProcessError` with the log's tail if the process exits first or does
        not answer within ``timeout`` seconds (it is killed then).
        """
        if self.running:
            raise BotProcessError(f"bot process {self.pid} is already running")
        if getattr(self, "http", None) is None or self.http.closed:
            self.http = aiohttp.ClientSession()
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start #{self.starts} on port {self.port}\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--http",
                "--port",
                str(self.port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
                env=self._child_env(),
            )
        await self._wait_healthy(timeout)

    async def restart(self, timeout: float = START_TIMEOUT) -> None:
        """A new process with the same settings and port; a running one is SIGTERMed first
        (a deploy). After :meth:`kill` it is a restart after a crash."""
        if self.running:
            self.terminate()
            await self.wait()
        await self.start(timeout)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, without closing anything."""
        self._signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM, as a deploy or ``docker stop`` sends."""
        self._signal(signal.SIGTERM)

    async def wait(self, timeout: float = 30.0) -> int:
        """The exit code once the process has exited: ``-N`` for death by signal ``N``."""
        assert self.process is not None, "not started"
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def close(self) -> None:
        """Kill the process if it still runs and close the HTTP session (fixture teardown)."""
        if self.running:
            self.kill()
            await self.wait()
        if getattr(self, "http", None) is not None:
            await self.http.close()

    # -- the log ----------------------------------------------------------------------------

    def log_text(self) -> str:
        """Everything every process of this bot wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the log."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- internals --------------------------------------------------------------------------

    def _signal(self, signum: signal.Signals) -> None:
        assert self.process is not None, "not started"
        if self.process.returncode is None:
            self.process.send_signal(signum)

    def _child_env(self) -> dict[str, str]:
        settings = {name.upper() for name in Settings.model_fields}
        env = {k: v for k, v in os.environ.items() if k.upper() not in settings}
        python_path = [str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        env.update(PYTHONPATH=os.pathsep.join(python_path), PYTHONUNBUFFERED="1")
        env.update(self.env)
        return env

    async def _wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.process.returncode is not None:
                raise BotProcessError(
                    f"bot process exited with {self.process.returncode} before answering "
                    f"/healthz; log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                async with self.http.get(
                    f"{self.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                ) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass  # not listening yet
            if loop.time() > deadline:
                self.kill()
                await self.wait()
                raise BotProcessError(
                    f"bot process did not answer /healthz within {timeout}s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            # Polling a starting process's port: there is no event to wait on.
            await asyncio.sleep(0.05)

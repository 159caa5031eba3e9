"""The real bot, unmodified, as a child process: ``python -m bot serve --http --port N``.

It is what ``codex-slack serve --http`` runs, configured only by environment variables: the
playground hands it a Slack bot token and signing secret of its own, the emulator's Web API
URL, Redis, and a ``CODEX_HOME`` for the app-server it spawns over stdio. Every bot setting
the caller's environment holds is left out, and it runs in its own directory, so neither
exported settings nor a ``.env`` file (a real workspace's tokens) reach it. Its logs go to
a file, :attr:`BotProcess.log_path`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import aiohttp

import bot
from bot.config import Settings
from playground.redis_server import PlaygroundError

__all__ = ["BotProcess"]

START_SECONDS: Final = 60.0
"""How long the bot may take to answer ``/healthz`` (imports, Slack auth, Codex start)."""
STOP_SECONDS: Final = 15.0
"""How long it may take to stop after SIGTERM before it is killed."""

_CODEX_VARIABLES: Final = ("CODEX_HOME", "OPENAI_API_KEY", "OPENAI_BASE_URL")


class BotProcess:
    """One bot process listening on 127.0.0.1:``port``, with ``settings`` as its environment
    (``openai_api_key``: passed on to the app-server it spawns, for real Codex)."""

    def __init__(
        self,
        settings: Mapping[str, str],
        *,
        port: int,
        workdir: Path,
        openai_api_key: str | None = None,
    ) -> None:
        self.port = port
        self.workdir = workdir
        self.log_path = workdir / "bot.log"
        self._env = _child_env(settings, openai_api_key)
        self._process: asyncio.subprocess.Process | None = None

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Start it and return once ``/healthz`` answers (it has checked its Slack token,
        started Codex and listens for Slack's requests)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "bot", "serve", "--http", "--port", str(self.port)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self._env,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        while not await self._healthy(http):
            if self._process.returncode is not None:
                said = self._last_words()
                raise PlaygroundError(
                    f"the bot did not start{f' ({said})' if said else ''}; its log: {self.log_path}"
                )
            if loop.time() > deadline:
                await self.stop()
                raise PlaygroundError(f"the bot did not start; its log: {self.log_path}")
            # Polling a starting process's port: there is no event to wait on.
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """SIGTERM (the bot drains, then closes Codex and Redis), SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()

    def _last_words(self) -> str:
        """The one line a bot that could not start prints (``codex-slack: <why>``), if any."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        said = [line for line in lines if line.startswith("codex-slack: ")]
        return said[-1].removeprefix("codex-slack: ") if said else ""

    async def _healthy(self, http: aiohttp.ClientSession) -> bool:
        url = f"http://127.0.0.1:{self.port}/healthz"
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False


def _child_env(settings: Mapping[str, str], openai_api_key: str | None) -> dict[str, str]:
    """The caller's environment less every bot setting and Codex credential, plus
    ``settings``; the project on ``PYTHONPATH`` so ``-m bot`` finds this very bot."""
    dropped = {name.upper() for name in Settings.model_fields} | set(_CODEX_VARIABLES)
    env = {k: v for k, v in os.environ.items() if k.upper() not in dropped}
    root = str(Path(bot.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    if openai_api_key is not None:
        env["OPENAI_API_KEY"] = openai_api_key
    env.update(settings)
    return env

"""The whole playground on this machine: Slack, the real bot, Redis, Codex, and the page.

``async with Playground(options) as playground`` starts, in order:

1. the Slack emulator on 127.0.0.1 (its people named, a bot token of its own);
2. the model: with ``OPENAI_API_KEY`` (or ``model="openai"``), OpenAI itself, for real
   Codex answers; otherwise the canned demo model on 127.0.0.1;
3. a ``CODEX_HOME`` pointing the app-server at that model, with the ``untrusted`` approval
   policy and a read-only sandbox, and a small demo project as its working directory;
4. Redis (:mod:`playground.redis_server`);
5. the real bot as a child process in HTTP mode (:mod:`playground.bot_process`), which spawns
   the pinned ``codex app-server`` over stdio, its embedded default;
6. the page (:mod:`playground.web`) on ``options.host:options.port``, whose actions reach
   the bot as Slack's signed requests.

and stops them in reverse order. :attr:`Playground.url` is the page's address.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import aiohttp
from aiohttp import web

from bot.config import default_codex_bin
from playground.actions import Actions
from playground.bot_process import BotProcess
from playground.codex_home import (
    ASK_FEATURES,
    LOCAL_MODEL_KEY_ENV,
    write_codex_home,
    write_openai_home,
)
from playground.directory import BOT_NAME, CHANNELS, COMMANDS, PEOPLE, SHORTCUTS, profile
from playground.feed import Feed
from playground.model.demo import DemoModel
from playground.ports import free_port
from playground.redis_server import PlaygroundError, local_redis
from playground.slack.api import SlackFake
from playground.web import build_app
from playground.wire import BotLink

__all__ = ["Playground", "PlaygroundOptions"]

ModelChoice = Literal["auto", "demo", "openai"]

APPROVAL_POLICY: Final = "untrusted"
"""Codex asks before every command it has not been told is safe: the page shows approvals.
The bot asks for it on each thread it starts (Codex 0.171 no longer takes it in config.toml)."""

DEMO_PROJECT: Final[Mapping[str, str]] = {
    "README.md": "# hello-playground\n\nA tiny project for Codex to look at in the playground.\n",
    "app.py": 'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n',
}


@dataclass
class PlaygroundOptions:
    host: str = "127.0.0.1"
    port: int = 0
    """The page's port (0: any free one)."""
    model: ModelChoice = "auto"
    """``auto``: OpenAI when ``OPENAI_API_KEY`` is set, else the demo model."""
    redis_url: str | None = None
    """None: the bot's default Redis, or a private redis-server when none answers there."""
    cwd: Path | None = None
    """Codex's working directory (None: a small demo project in the state directory)."""
    state_dir: Path | None = None
    """Where the playground keeps its files (None: a temporary directory, removed after,
    unless the start failed: then it holds the bot's log)."""
    codex_bin: str | None = None
    demo_pace: float = 0.06
    """Seconds between the demo model's streamed pieces."""
    bot_settings: Mapping[str, str] = field(default_factory=dict)
    """Extra bot settings, as environment variables (e.g. ``SLACK_DELIVERY``)."""


class Playground:
    """See the module docstring."""

    def __init__(self, options: PlaygroundOptions | None = None) -> None:
        self.options = options or PlaygroundOptions()
        self.slack: SlackFake
        self.demo: DemoModel | None = None
        """The demo model, when the playground runs it (None with real Codex)."""
        self.bot: BotProcess
        self.feed: Feed
        self.actions: Actions
        self.url = ""
        self._stack = contextlib.AsyncExitStack()
        self._keep_state = False

    @property
    def real_codex(self) -> bool:
        choice = self.options.model
        return choice == "openai" or (choice == "auto" and bool(os.environ.get("OPENAI_API_KEY")))

    async def __aenter__(self) -> Playground:
        try:
            await self._start()
        except BaseException:
            self._keep_state = True  # the bot's log says why it did not start
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        options = self.options
        api_key = os.environ.get("OPENAI_API_KEY") if self.real_codex else None
        if self.real_codex and not api_key:
            raise PlaygroundError("--model openai needs OPENAI_API_KEY")
        codex_bin = options.codex_bin or default_codex_bin()
        if shutil.which(codex_bin) is None:
            raise PlaygroundError(
                f"the Codex CLI ({codex_bin}) is not installed: run scripts/bootstrap"
            )
        state = self._state_dir()
        bot_token = f"xoxb-playground-{secrets.token_hex(12)}"
        signing_secret = secrets.token_hex(16)

        self.slack = await self._stack.enter_async_context(SlackFake(bot_token=bot_token))
        for person in PEOPLE:
            self.slack.workspace.users[person.id] = profile(person, self.slack.team_id)

        home = state / "codex-home"
        if api_key is None:
            demo = await self._stack.enter_async_context(DemoModel(pace=options.demo_pace))
            write_codex_home(home, demo.base_url, features=ASK_FEATURES)
            self.demo = demo
        else:
            write_openai_home(home, features=ASK_FEATURES)
        cwd = options.cwd or _demo_project(state / "project")

        redis_url = await self._stack.enter_async_context(
            local_redis(options.redis_url, state / "redis")
        )
        settings = {
            "SLACK_BOT_TOKEN": bot_token,
            "SLACK_SIGNING_SECRET": signing_secret,
            "SLACK_API_URL": self.slack.url,
            "REDIS_URL": redis_url,
            "HOST": "127.0.0.1",
            "CODEX_BIN": codex_bin,
            "CODEX_HOME": str(home),
            "CODEX_CWD": str(cwd),
            "CODEX_APPROVAL_POLICY": APPROVAL_POLICY,
            "CODEX_SANDBOX": "read-only",
            "FILES_DIR": str(state / "files"),
            # A stopping playground need not hand running turns to another replica.
            "SHUTDOWN_DRAIN_SECONDS": "1",
            **({LOCAL_MODEL_KEY_ENV: "demo"} if api_key is None else {}),
            **options.bot_settings,
        }
        http = await self._stack.enter_async_context(aiohttp.ClientSession())
        self.bot = BotProcess(
            settings, port=free_port(), workdir=state / "bot", openai_api_key=api_key
        )
        self._stack.push_async_callback(self.bot.stop)
        await self.bot.start(http)

        self.feed = Feed(self.slack, self._info())
        self.actions = Actions(
            self.slack, self.feed, BotLink(self.bot.events_url, signing_secret, http)
        )
        runner = web.AppRunner(build_app(self.feed, self.actions), access_log=None)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else options.port
        host = "127.0.0.1" if options.host in ("0.0.0.0", "") else options.host  # noqa: S104
        self.url = f"http://{host}:{port}/"

    def _state_dir(self) -> Path:
        if self.options.state_dir is not None:
            state = self.options.state_dir
        else:
            state = Path(tempfile.mkdtemp(prefix="codex-slack-playground-"))
            self._stack.callback(self._remove_state, state)
        (state / "redis").mkdir(parents=True, exist_ok=True)
        return state

    def _remove_state(self, state: Path) -> None:
        if not self._keep_state:
            shutil.rmtree(state, ignore_errors=True)

    def _info(self) -> dict[str, Any]:
        """What the page shows of the workspace and the model (static)."""
        if self.demo is not None:
            model = {
                "kind": "demo",
                "label": "Demo model: canned answers",
                "detail": (
                    "The bot, Slack's wire formats, Redis and the Codex app-server are real; "
                    "the model's words are canned. Set OPENAI_API_KEY for real Codex."
                ),
            }
        else:
            model = {
                "kind": "openai",
                "label": "Real Codex (OPENAI_API_KEY)",
                "detail": "Answers come from OpenAI through the real Codex app-server.",
            }
        return {
            "team": {"id": self.slack.team_id, "name": "Playground"},
            "bot": {"id": self.slack.bot_user_id, "name": BOT_NAME},
            "people": [{"id": p.id, "name": p.name, "real_name": p.real_name} for p in PEOPLE],
            "channels": [{"id": c.id, "name": c.name, "topic": c.topic} for c in CHANNELS],
            "commands": [asdict(command) for command in COMMANDS],
            "shortcuts": [asdict(shortcut) for shortcut in SHORTCUTS],
            "model": model,
        }


def _demo_project(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in DEMO_PROJECT.items():
        (path / name).write_text(text)
    return path

"""``codex-slack``: ``serve`` (Socket Mode or HTTP), ``doctor`` and ``playground``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from logging.handlers import MemoryHandler

from pydantic import ValidationError

from bot.config import Settings, describe_validation_error, forget_environment_secrets
from bot.doctor import StartupProblem, run_doctor
from bot.logs import configure_logging, redact
from bot.service import Service
from playground import cli as playground_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codex-slack", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the bot")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument(
        "--socket", action="store_true", help="Socket Mode (default when SLACK_APP_TOKEN is set)"
    )
    mode.add_argument("--http", action="store_true", help="HTTP: Slack posts to /slack/events")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default: $PORT or 3000)")
    sub.add_parser("doctor", help="check Slack auth, the Codex handshake and Redis")
    playground_cli.add_arguments(
        sub.add_parser("playground", help="try the bot here: a local Slack page, no tokens needed")
    )
    return parser


class HeldLogs:
    """The root logger's records, held back from stderr until a start is known to have worked.

    A start that fails says why in one line (a :class:`~bot.doctor.StartupProblem`); the JSON
    records that led there (slack-sdk's retry notices, the Codex pool's warnings) would bury
    it, so they are dropped, or shown before it at LOG_LEVEL=DEBUG. A start that works lets
    them all through, in order, and logging goes on as configured.
    """

    CAPACITY = 10_000
    """Records held at most; past it they go out (a start logging this much is not quiet)."""

    def __init__(self) -> None:
        root = logging.getLogger()
        self._handlers = list(root.handlers)
        target = self._handlers[0] if self._handlers else logging.StreamHandler(sys.stderr)
        self._memory = MemoryHandler(
            self.CAPACITY, flushLevel=logging.CRITICAL + 1, target=target, flushOnClose=False
        )
        root.handlers[:] = [self._memory]
        self.released = False

    def release(self) -> None:
        """The start worked: the held records go out, and logging is as configured again."""
        self._end(show=True)

    def drop(self, *, show: bool) -> None:
        """The start failed: the held records go out only if ``show``."""
        self._end(show=show)

    def _end(self, *, show: bool) -> None:
        if self.released:
            return
        self.released = True
        logging.getLogger().handlers[:] = self._handlers
        if show:
            self._memory.flush()
        self._memory.buffer.clear()
        self._memory.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "playground":
        return playground_cli.run(args)  # it makes the bot's settings itself
    try:
        settings = Settings()
    except ValidationError as exc:
        for line in describe_validation_error(exc).splitlines():
            print(f"codex-slack: {line}", file=sys.stderr)
        return 2
    forget_environment_secrets()
    configure_logging(settings.log_level)
    debug = settings.log_level == "DEBUG"
    if command == "doctor":
        held = HeldLogs()  # the report says what the records would; DEBUG shows them too
        try:
            return asyncio.run(run_doctor(settings))
        finally:
            held.drop(show=debug)
    socket_mode = bool(args.socket or (not args.http and settings.slack_app_token))
    if socket_mode and settings.slack_app_token is None:
        print("codex-slack: --socket needs SLACK_APP_TOKEN (an xapp- token)", file=sys.stderr)
        return 2
    if not socket_mode and settings.slack_signing_secret is None:
        print("codex-slack: HTTP mode needs SLACK_SIGNING_SECRET", file=sys.stderr)
        return 2
    port = args.port if args.port is not None else settings.port
    return _serve(settings, socket_mode=socket_mode, port=port, debug=debug)


def _serve(settings: Settings, *, socket_mode: bool, port: int, debug: bool) -> int:
    """Run the bot; a start that fails is one line on stderr and exit status 1."""
    log = logging.getLogger(__name__)
    held = HeldLogs()
    log.info("starting in %s mode on port %d", "socket" if socket_mode else "http", port)
    service = Service(settings)
    try:
        asyncio.run(service.run_forever(socket_mode=socket_mode, port=port, started=held.release))
    except KeyboardInterrupt:
        held.release()
        return 0
    except Exception as exc:
        if held.released:
            raise  # a failure while serving, not at start: logged and shown as it always was
        if isinstance(exc, StartupProblem):
            problem = str(exc)
        else:
            # Not a problem the checks know: still one line, the traceback at DEBUG.
            log.debug("start-up failed", exc_info=exc)
            problem = (
                f"start-up failed ({type(exc).__name__}: {redact(' '.join(str(exc).split()))}); "
                "`codex-slack doctor` checks every peer, LOG_LEVEL=DEBUG shows the traceback"
            )
        held.drop(show=debug)
        print(f"codex-slack: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

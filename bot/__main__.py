"""``codex-slack``: ``serve`` (Socket Mode or HTTP) and ``doctor``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.config import Settings, describe_validation_error, forget_environment_secrets
from bot.doctor import run_doctor
from bot.logs import configure_logging
from bot.service import Service


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"codex-slack: bad configuration:\n{describe_validation_error(exc)}", file=sys.stderr)
        return 2
    forget_environment_secrets()
    configure_logging(settings.log_level)
    if command == "doctor":
        return asyncio.run(run_doctor(settings))
    socket_mode = bool(args.socket or (not args.http and settings.slack_app_token))
    if socket_mode and settings.slack_app_token is None:
        print("codex-slack: --socket needs SLACK_APP_TOKEN (an xapp- token)", file=sys.stderr)
        return 2
    if not socket_mode and settings.slack_signing_secret is None:
        print("codex-slack: HTTP mode needs SLACK_SIGNING_SECRET", file=sys.stderr)
        return 2
    port = args.port if args.port is not None else settings.port
    logging.getLogger(__name__).info(
        "starting in %s mode on port %d", "socket" if socket_mode else "http", port
    )
    try:
        asyncio.run(Service(settings).run_forever(socket_mode=socket_mode, port=port))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

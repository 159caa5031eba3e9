"""``codex-slack playground``: try the bot on this machine, with no Slack workspace or tokens.

Starts everything (:class:`playground.runner.Playground`), prints the page's address, and
runs until Ctrl-C or SIGTERM. A start that cannot succeed says why in one line and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playground.runner import PlaygroundOptions

__all__ = ["add_arguments", "main", "run"]

DEFAULT_PORT = 3100
"""The page's port: beside the bot's default 3000, which a real bot may be using."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The playground's options, on ``codex-slack playground``'s parser."""
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the page's port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="the page's address (default 127.0.0.1)"
    )
    parser.add_argument(
        "--model",
        choices=("auto", "demo", "openai"),
        default="auto",
        help="openai: real Codex (needs OPENAI_API_KEY); demo: canned answers; "
        "auto (default): openai when OPENAI_API_KEY is set",
    )
    parser.add_argument(
        "--cwd", type=Path, default=None, help="Codex's working directory (default: a demo project)"
    )
    parser.add_argument(
        "--delivery",
        choices=("auto", "native", "edit"),
        default="auto",
        help="how replies stream (the bot's SLACK_DELIVERY; default auto)",
    )
    parser.add_argument(
        "--open", action="store_true", help="open the page in a browser once it is up"
    )


def run(args: argparse.Namespace) -> int:
    """Run the playground with parsed ``args``; the process's exit code."""
    # Imported here: the bot's own command line builds this parser at every start, and
    # a bot that serves Slack needs none of the playground's modules.
    from playground.redis_server import PlaygroundError
    from playground.runner import PlaygroundOptions

    options = PlaygroundOptions(
        host=args.host,
        port=args.port,
        model=args.model,
        cwd=args.cwd,
        bot_settings={"SLACK_DELIVERY": args.delivery},
    )
    try:
        asyncio.run(_serve(options, open_page=args.open))
    except PlaygroundError as error:
        print(f"codex-slack playground: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"codex-slack playground: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m playground``: the same as ``codex-slack playground``."""
    parser = argparse.ArgumentParser(prog="codex-slack playground", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


async def _serve(options: PlaygroundOptions, *, open_page: bool) -> None:
    from playground.runner import Playground

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Playground(options) as playground:
            model = "real Codex" if playground.demo is None else "demo model, canned answers"
            print(
                f"codex-slack playground ({model}): open {playground.url}\n"
                f"  bot log: {playground.bot.log_path}\n"
                "  Ctrl-C stops it.",
                flush=True,
            )
            if open_page:
                webbrowser.open(playground.url)
            await stop.wait()
            print("codex-slack playground: stopping", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

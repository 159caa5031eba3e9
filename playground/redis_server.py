"""Redis for the playground: the bot's embedded default, as ``scripts/run-bot`` has it.

:func:`local_redis` uses ``REDIS_URL`` when given, else the bot's default
(``redis://127.0.0.1:6379/0``) when a Redis answers there, else starts a private
``redis-server`` on a free loopback port for as long as the playground runs. That one keeps
nothing on disk: the playground's Slack lives in memory, so its threads end with it anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final, cast

import redis.asyncio as aioredis
import redis.exceptions

from playground.ports import free_port

__all__ = ["DEFAULT_REDIS_URL", "PlaygroundError", "local_redis", "redis_answers"]

DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/0"
_READY: Final = b"Ready to accept connections"


class PlaygroundError(RuntimeError):
    """The playground cannot start; the message says what to do (one line, no traceback)."""


async def redis_answers(url: str) -> bool:
    """Whether a Redis at ``url`` answers PING within a second."""
    client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await cast(Any, client.ping()))
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def local_redis(url: str | None, workdir: Path) -> AsyncIterator[str]:
    """The Redis URL the playground's bot uses (see the module docstring); a private
    redis-server runs in ``workdir``, which must exist."""
    if url is not None:
        if not await redis_answers(url):
            raise PlaygroundError("REDIS_URL does not answer: start that Redis or unset REDIS_URL")
        yield url
        return
    if await redis_answers(DEFAULT_REDIS_URL):
        yield DEFAULT_REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise PlaygroundError(
            "no Redis answers on 127.0.0.1:6379 and redis-server is not installed: run "
            "scripts/bootstrap (as root it installs Debian's redis-server), or set REDIS_URL"
        )
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary,
        *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir)),
        *("--save", "", "--appendonly", "no"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    drain: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(_ready(process, process.stdout), timeout=20)
        # Its later log lines must still be read, or the pipe fills and it blocks.
        drain = asyncio.create_task(_drain(process.stdout))
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        if drain is not None:
            await drain


async def _ready(process: asyncio.subprocess.Process, output: asyncio.StreamReader) -> None:
    """Return once redis-server says it accepts connections."""
    while line := await output.readline():
        if _READY in line:
            return
    raise PlaygroundError(f"redis-server exited at start with {await process.wait()}")


async def _drain(output: asyncio.StreamReader) -> None:
    while await output.readline():
        pass

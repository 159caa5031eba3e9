"""Fixtures shared by every test: a real Redis server, and paths to the pinned tools."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from playground.model.scripted import ModelServer
from tests.fakes.codex_server import CodexServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL when set, else a private redis-server on a free port."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run scripts/bootstrap or set REDIS_URL")
    workdir = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_redis(port, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_for_redis(port: int, proc: subprocess.Popen[bytes]) -> None:
    import redis as sync_redis

    client = sync_redis.Redis(host="127.0.0.1", port=port)
    for _ in range(500):
        if proc.poll() is not None:
            pytest.fail(f"redis-server exited with {proc.returncode}")
        try:
            if client.ping():
                client.close()
                return
        except sync_redis.ConnectionError:
            proc.poll()
            import time

            time.sleep(0.01)  # polling a starting server's port: there is no event to wait on
    pytest.fail("redis-server did not start")


@pytest.fixture
async def redis_url(redis_server_url: str) -> str:
    """A Redis URL whose database is flushed before the test, so tests never see each other."""
    client = aioredis.from_url(redis_server_url)
    await client.flushdb()
    await client.aclose()
    return redis_server_url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the flushed test database, closed after the test."""
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def codex_binary() -> Path:
    """The Codex CLI's native binary installed by scripts/bootstrap in .tools/codex: the pinned
    version, or ``$CODEX_VERSION``'s. When CODEX_VERSION is set the binary must report it, so a
    stale install never passes for the version asked for."""
    base = PROJECT_ROOT / ".tools" / "codex" / "node_modules" / "@openai"
    candidates = sorted(base.glob("codex-linux-*/vendor/*/bin/codex"))
    if not candidates:
        pytest.fail("the pinned Codex CLI is missing; run scripts/bootstrap")
    binary = candidates[0]
    wanted = os.environ.get("CODEX_VERSION")
    if wanted and _codex_version(binary) != wanted:
        pytest.fail(
            f"CODEX_VERSION={wanted} but .tools/codex holds {_codex_version(binary)}; "
            "run scripts/bootstrap with the same CODEX_VERSION"
        )
    return binary


@pytest.fixture(scope="session")
def codex_version(codex_binary: Path) -> str:
    """The version of :func:`codex_binary`, as ``0.171.0``."""
    return _codex_version(codex_binary)


def _codex_version(binary: Path) -> str:
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return out.strip().removeprefix("codex-cli ")


@pytest.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    """The scripted Responses-API model on 127.0.0.1, port 0."""
    async with ModelServer() as server:
        yield server


@pytest.fixture
async def codex_server(
    codex_binary: Path, model_server: ModelServer, tmp_path: Path
) -> AsyncIterator[CodexServer]:
    """The real pinned app-server on ws://127.0.0.1 (no auth), wired to ``model_server``."""
    async with CodexServer(codex_binary, model_server.base_url, tmp_path / "codex") as server:
        yield server

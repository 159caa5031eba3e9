"""A first run that explains itself: every start-up failure of ``codex-slack serve`` is one
line on stderr that names the setting and the fix (no traceback, no aiohttp "Unclosed client
session"), with a non-zero exit status; ``codex-slack doctor`` reports the same problems.

Each test runs the real command (``python -m bot``, what ``codex-slack`` and scripts/run-bot
run) as a child process against a real peer that fails the way the world does: the Slack fake
refusing a token, lacking scopes or Socket Mode; a closed port, a name that cannot resolve, a
self-signed TLS port, a proxy that is down or wants credentials; a redis-server with a
password; a codex binary of another version.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import PINNED_CODEX_VERSION, Settings
from playground.slack.api import DEFAULT_SCOPES, SlackFake
from tests.conftest import PROJECT_ROOT, free_port

BOT_TOKEN = "xoxb-first-run-bot-token-4711"
APP_TOKEN = "xapp-1-first-run-app-token-4711"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")
RUN_TIMEOUT = 60.0


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


async def codex_slack(*args: str, env: dict[str, str], cwd: Path) -> Run:
    """``codex-slack ARGS`` as a child process with exactly the bot settings in ``env`` (none
    inherited: a developer's tokens, .env or proxy must not leak in), run in ``cwd``."""
    settings = {name.upper() for name in Settings.model_fields}
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in settings and k not in PROXY_VARIABLES
    }
    child_env.update(PYTHONPATH=str(PROJECT_ROOT), **env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=child_env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        pytest.fail(f"codex-slack {' '.join(args)} still ran after {RUN_TIMEOUT}s: {err!r}")
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def the_line(run: Run, *needles: str) -> str:
    """The one stderr line of a failed start, checked: non-zero exit, one line starting
    ``codex-slack:`` holding every needle, no traceback, no unclosed session, no token."""
    assert run.returncode != 0, run
    assert "Traceback" not in run.stderr, run.stderr
    assert "Unclosed" not in run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    line = lines[0]
    assert line.startswith("codex-slack: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    assert BOT_TOKEN not in run.stderr
    assert APP_TOKEN not in run.stderr
    return line


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty directory to run in: no stray .env file is read."""
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture
async def slack() -> AsyncIterator[SlackFake]:
    """The Slack fake, accepting only :data:`BOT_TOKEN` and :data:`APP_TOKEN`."""
    async with SlackFake(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


def closed_port_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


def http_env(slack_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """HTTP mode against ``slack_url`` and ``redis_url``; Codex at a closed ws:// port (a
    running bot starts without Codex, so only the checks before it can stop these starts)."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "first-run-signing-secret",
        "SLACK_API_URL": slack_url,
        "REDIS_URL": redis_url,
        "CODEX_URL": closed_port_url("ws"),
        "HOST": "127.0.0.1",
        **extra,
    }


SERVE_HTTP = ("serve", "--http", "--port", "0")


# -- Slack unreachable ---------------------------------------------------------------------


async def test_a_name_that_does_not_resolve_names_slack_api_url(
    redis_url: str, workdir: Path
) -> None:
    run = await codex_slack(
        *SERVE_HTTP, env=http_env("https://slack.invalid/api/", redis_url), cwd=workdir
    )
    the_line(run, "SLACK_API_URL=https://slack.invalid/api/", "does not resolve (DNS)")


async def test_a_closed_port_names_slack_api_url(redis_url: str, workdir: Path) -> None:
    url = f"{closed_port_url('http')}/api/"
    run = await codex_slack(*SERVE_HTTP, env=http_env(url, redis_url), cwd=workdir)
    the_line(run, f"SLACK_API_URL={url}", "refused the connection")


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no self-signed certificate to serve")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
async def tls_port(self_signed: tuple[Path, Path]) -> AsyncIterator[int]:
    """A TLS port on 127.0.0.1 with the self-signed certificate, answering like Slack."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed)

    async def answer(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "user_id": "U1"})

    app = web.Application()
    app.router.add_route("*", "/api/{method}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock, ssl_context=context).start()
    try:
        yield sock.getsockname()[1]
    finally:
        await runner.cleanup()


async def test_an_untrusted_tls_certificate_names_ssl_cert_file(
    tls_port: int, redis_url: str, workdir: Path
) -> None:
    url = f"https://127.0.0.1:{tls_port}/api/"
    run = await codex_slack(*SERVE_HTTP, env=http_env(url, redis_url), cwd=workdir)
    the_line(run, f"SLACK_API_URL={url}", "self-signed certificate", "SSL_CERT_FILE")


async def test_a_proxy_that_is_down_names_the_proxy_variable_without_its_password(
    redis_url: str, workdir: Path
) -> None:
    port = free_port()
    env = http_env(
        "https://slack.com/api/", redis_url, HTTPS_PROXY=f"http://me:proxy-pw-77@127.0.0.1:{port}"
    )
    run = await codex_slack(*SERVE_HTTP, env=env, cwd=workdir)
    line = the_line(run, f"HTTPS_PROXY=http://127.0.0.1:{port}", "refused the connection")
    assert "proxy-pw-77" not in line


@pytest.fixture
async def proxy_wanting_credentials() -> AsyncIterator[int]:
    """A proxy on 127.0.0.1 that answers every CONNECT with 407 Proxy Authentication Required."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_proxy_wanting_credentials_says_so(
    proxy_wanting_credentials: int, redis_url: str, workdir: Path
) -> None:
    proxy = f"http://127.0.0.1:{proxy_wanting_credentials}"
    env = http_env("https://slack.com/api/", redis_url, https_proxy=proxy)
    run = await codex_slack(*SERVE_HTTP, env=env, cwd=workdir)
    the_line(run, f"https_proxy={proxy}", "HTTP 407", "USER:PASSWORD")


# -- Slack refuses the token ---------------------------------------------------------------


async def test_an_unknown_bot_token_is_invalid_auth_with_where_to_copy_it(
    slack: SlackFake, redis_url: str, workdir: Path
) -> None:
    env = http_env(slack.url, redis_url, SLACK_BOT_TOKEN="xoxb-not-this-workspaces-token")
    run = await codex_slack(*SERVE_HTTP, env=env, cwd=workdir)
    line = the_line(run, "SLACK_BOT_TOKEN (invalid_auth)", "OAuth & Permissions")
    assert "not-this-workspaces" not in line


async def test_not_authed_names_the_bot_token(
    slack: SlackFake, redis_url: str, workdir: Path
) -> None:
    slack.fail_next("auth.test", error="not_authed")
    run = await codex_slack(*SERVE_HTTP, env=http_env(slack.url, redis_url), cwd=workdir)
    the_line(run, "SLACK_BOT_TOKEN (not_authed)", "Bot User OAuth Token")


async def test_a_token_slack_says_is_of_another_type_is_named(
    slack: SlackFake, redis_url: str, workdir: Path
) -> None:
    slack.fail_next("auth.test", error="not_allowed_token_type")
    run = await codex_slack(*SERVE_HTTP, env=http_env(slack.url, redis_url), cwd=workdir)
    the_line(run, "SLACK_BOT_TOKEN (not_allowed_token_type)", "not a bot token (xoxb-…)")


@pytest.mark.parametrize(
    ("token", "kind"),
    [("xapp-1-A1-wrong-place", "an app-level token"), ("xoxp-1-user-token", "a user token")],
)
async def test_a_token_of_the_wrong_type_is_refused_before_any_call(
    token: str, kind: str, slack: SlackFake, redis_url: str, workdir: Path
) -> None:
    """An xapp- or xoxp- token as SLACK_BOT_TOKEN is refused by its shape, exit status 2."""
    env = http_env(slack.url, redis_url, SLACK_BOT_TOKEN=token)
    run = await codex_slack(*SERVE_HTTP, env=env, cwd=workdir)
    line = the_line(run, "SLACK_BOT_TOKEN", kind, "Bot User OAuth Token")
    assert run.returncode == 2
    assert token not in line
    assert not slack.calls, "nothing is asked of Slack"


async def test_missing_scopes_are_listed(slack: SlackFake, redis_url: str, workdir: Path) -> None:
    slack.scopes = tuple(s for s in DEFAULT_SCOPES if s not in ("chat:write", "commands"))
    run = await codex_slack(*SERVE_HTTP, env=http_env(slack.url, redis_url), cwd=workdir)
    the_line(run, "SLACK_BOT_TOKEN lacks the scopes chat:write, commands", "reinstall")


async def test_without_the_file_scopes_the_start_goes_on(slack: SlackFake, workdir: Path) -> None:
    """files:read and files:write are optional (turns say what they could not do): a token
    without them passes the scope check, and this start stops at the next one, Redis."""
    slack.scopes = tuple(s for s in DEFAULT_SCOPES if s not in ("files:read", "files:write"))
    redis = f"{closed_port_url('redis')}/0"
    run = await codex_slack(*SERVE_HTTP, env=http_env(slack.url, redis), cwd=workdir)
    line = the_line(run, "REDIS_URL")
    assert "scopes" not in line


# -- Socket Mode ---------------------------------------------------------------------------


def socket_env(slack: SlackFake, redis_url: str, **extra: str) -> dict[str, str]:
    env = http_env(slack.url, redis_url, **{"SLACK_APP_TOKEN": APP_TOKEN, **extra})
    del env["SLACK_SIGNING_SECRET"]
    return env


SERVE_SOCKET = ("serve", "--socket", "--port", "0")


async def test_socket_mode_not_enabled_says_where_to_turn_it_on(
    slack: SlackFake, redis_url: str, workdir: Path
) -> None:
    # Slack documents no error of its own for an app whose Socket Mode is off; any refusal
    # of an app token it accepts reads as that. access_denied is one the method lists.
    slack.fail_next("apps.connections.open", error="access_denied")
    run = await codex_slack(*SERVE_SOCKET, env=socket_env(slack, redis_url), cwd=workdir)
    the_line(run, "SLACK_APP_TOKEN (access_denied)", "turn on Socket Mode", "serve --http")
    assert len(slack.calls_for("apps.connections.open")) == 1, "refused once, not retried"


async def test_an_unknown_app_token_is_invalid_auth(
    slack: SlackFake, redis_url: str, workdir: Path
) -> None:
    env = socket_env(slack, redis_url, SLACK_APP_TOKEN="xapp-1-someone-elses")
    run = await codex_slack(*SERVE_SOCKET, env=env, cwd=workdir)
    the_line(run, "SLACK_APP_TOKEN (invalid_auth)", "App-Level Tokens", "connections:write")


# -- Codex ---------------------------------------------------------------------------------


def stdio_env(slack: SlackFake, redis_url: str, codex_bin: Path) -> dict[str, str]:
    env = http_env(slack.url, redis_url, CODEX_BIN=str(codex_bin))
    del env["CODEX_URL"]
    return env


async def test_a_missing_codex_binary_names_codex_bin_and_bootstrap(
    slack: SlackFake, redis_url: str, workdir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir" / "codex"
    run = await codex_slack(*SERVE_HTTP, env=stdio_env(slack, redis_url, missing), cwd=workdir)
    the_line(run, f"CODEX_BIN={missing} is not found", "scripts/bootstrap", PINNED_CODEX_VERSION)


@pytest.fixture
def old_codex(tmp_path: Path) -> Path:
    """A codex that reports another release than the pinned one."""
    path = tmp_path / "old-codex"
    path.write_text('#!/bin/sh\necho "codex-cli 0.150.0"\n')
    path.chmod(0o755)
    return path


async def test_a_codex_of_another_version_names_both_and_codex_version(
    slack: SlackFake, redis_url: str, workdir: Path, old_codex: Path
) -> None:
    run = await codex_slack(*SERVE_HTTP, env=stdio_env(slack, redis_url, old_codex), cwd=workdir)
    the_line(
        run,
        f"CODEX_BIN={old_codex} is codex 0.150.0, not {PINNED_CODEX_VERSION}",
        "scripts/bootstrap",
        "CODEX_VERSION=0.150.0",
    )


# -- Redis ---------------------------------------------------------------------------------


async def test_redis_unreachable_names_redis_url(slack: SlackFake, workdir: Path) -> None:
    redis = f"{closed_port_url('redis')}/0"
    run = await codex_slack(*SERVE_HTTP, env=http_env(slack.url, redis), cwd=workdir)
    the_line(run, f"REDIS_URL={redis}", "refused the connection", "redis-server")


@pytest.fixture(scope="module")
def redis_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """A redis-server that requires the password it is given; its port and password."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run scripts/bootstrap")
    password = "first-run-redis-pw"
    port = free_port()
    proc = subprocess.Popen(
        [
            *(binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_redis(port, password, proc)
        yield port, password
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_for_redis(port: int, password: str, proc: subprocess.Popen[bytes]) -> None:
    import time

    import redis as sync_redis

    client = sync_redis.Redis(host="127.0.0.1", port=port, password=password)
    for _ in range(500):
        if proc.poll() is not None:
            pytest.fail(f"redis-server exited with {proc.returncode}")
        try:
            if client.ping():
                client.close()
                return
        except sync_redis.ConnectionError:
            time.sleep(0.01)  # polling a starting server's port: there is no event to wait on
    pytest.fail("redis-server did not start")


async def test_redis_wanting_a_password_says_where_to_put_it(
    slack: SlackFake, redis_with_password: tuple[int, str], workdir: Path
) -> None:
    redis = f"redis://127.0.0.1:{redis_with_password[0]}/0"
    run = await codex_slack(*SERVE_HTTP, env=http_env(slack.url, redis), cwd=workdir)
    the_line(run, f"REDIS_URL={redis}", "requires a password (NOAUTH)", "redis://:PASSWORD@")


async def test_a_wrong_redis_password_is_named_without_it(
    slack: SlackFake, redis_with_password: tuple[int, str], workdir: Path
) -> None:
    redis = f"redis://:not-the-pw-31@127.0.0.1:{redis_with_password[0]}/0"
    run = await codex_slack(*SERVE_HTTP, env=http_env(slack.url, redis), cwd=workdir)
    line = the_line(run, "REDIS_URL=redis://:***@127.0.0.1", "refused its password (WRONGPASS)")
    assert "not-the-pw-31" not in line


# -- the HTTP port -------------------------------------------------------------------------


async def test_a_port_in_use_names_port(slack: SlackFake, redis_url: str, workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = await codex_slack(
            "serve", "--http", "--port", str(port), env=http_env(slack.url, redis_url), cwd=workdir
        )
    the_line(run, f"port {port} on 127.0.0.1 is already in use", "PORT")


# -- doctor --------------------------------------------------------------------------------


async def test_doctor_reports_every_problem_with_the_lines_serve_prints(
    slack: SlackFake, redis_with_password: tuple[int, str], workdir: Path, old_codex: Path
) -> None:
    """One broken setup, everything wrong at once: doctor prints a FAIL line per check, each
    the line serve stops with when that check is the first to fail; nothing on stderr."""
    slack.scopes = tuple(s for s in DEFAULT_SCOPES if s != "files:write")
    slack.fail_next("apps.connections.open", error="access_denied")
    redis = f"redis://127.0.0.1:{redis_with_password[0]}/0"
    env = socket_env(slack, redis, CODEX_BIN=str(old_codex))
    del env["CODEX_URL"]
    report = await codex_slack("doctor", env=env, cwd=workdir)
    assert report.returncode == 1
    assert report.stderr == ""
    lines = report.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "FAIL  slack",
        "FAIL  socket mode",
        "FAIL  redis",
        "FAIL  codex",
    ]
    slack_line, socket_line, redis_line, codex_line = (line.split(": ", 1)[1] for line in lines)
    assert slack_line.startswith("SLACK_BOT_TOKEN lacks the scopes files:write")
    assert socket_line.startswith("Slack would not open a Socket Mode connection")

    # serve stops at Redis with the very line doctor printed (the scope it lacks is optional,
    # Socket Mode is asked for last), and at Codex once Redis has its password.
    slack.fail_next("apps.connections.open", error="access_denied")
    served = await codex_slack(*SERVE_SOCKET, env=env, cwd=workdir)
    assert the_line(served) == f"codex-slack: {redis_line}"
    env["REDIS_URL"] = f"redis://:{redis_with_password[1]}@127.0.0.1:{redis_with_password[0]}/0"
    served = await codex_slack(*SERVE_SOCKET, env=env, cwd=workdir)
    assert the_line(served) == f"codex-slack: {codex_line}"
    assert redis_with_password[1] not in report.stdout + served.stderr


async def test_doctor_passes_a_healthy_setup_with_socket_mode(
    slack: SlackFake, redis_url: str, workdir: Path, codex_binary: Path, tmp_path: Path
) -> None:
    """The same checks pass against healthy peers: doctor prints ok for each (the pinned
    codex over stdio, Socket Mode opened), and exits 0."""
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    env = socket_env(slack, redis_url, CODEX_HOME=str(codex_home))
    del env["CODEX_URL"]
    env["CODEX_BIN"] = str(codex_binary)
    env["CODEX_VERSION"] = os.environ.get("CODEX_VERSION", "") or PINNED_CODEX_VERSION
    report = await codex_slack("doctor", env=env, cwd=workdir)
    assert report.stdout.splitlines() == [
        "ok    slack",
        "ok    socket mode",
        "ok    redis",
        "ok    codex",
    ], report
    assert report.returncode == 0
    assert report.stderr == ""


async def test_a_rate_limited_socket_mode_open_is_waited_out(
    slack: SlackFake, redis_url: str, workdir: Path
) -> None:
    """apps.connections.open allows about one call a minute: a 429 at start is waited out
    (Retry-After), not reported as Socket Mode being off."""
    slack.fail_next("apps.connections.open", error="ratelimited", retry_after=0.05)
    report = await codex_slack("doctor", env=socket_env(slack, redis_url), cwd=workdir)
    assert report.stdout.splitlines()[:3] == ["ok    slack", "ok    socket mode", "ok    redis"]
    assert [call["status"] for call in slack.calls_for("apps.connections.open")] == [429, 200]

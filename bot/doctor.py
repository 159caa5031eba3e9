"""What keeps the bot from starting, each problem named with its setting and its fix.

One module owns the diagnosis, for both commands: ``codex-slack serve`` runs these checks as
:class:`bot.service.Service` connects (auth.test, Redis, the Codex binary, the HTTP port, the
Socket Mode connection) and stops at the first :class:`StartupProblem`, whose text is the one
line the command prints; ``codex-slack doctor`` (:func:`run_doctor`) runs them all and prints a
line for each. A problem's text never holds a secret (tokens, a password in REDIS_URL or in a
proxy URL) and never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final, Literal, TextIO, cast
from urllib.parse import urlsplit

import aiohttp
import redis.asyncio as aioredis
import redis.exceptions
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import DEFAULT_SLACK_API_URL, Settings
from bot.logs import redact
from codex_client import AuthError, CodexError, CodexPool

TokenSetting = Literal["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]


class StartupProblem(Exception):
    """Why the bot cannot start: ``str()`` is one line naming the setting and the fix."""

    def __init__(self, message: str) -> None:
        # One line whatever a peer's error text held; token-shaped text masked regardless.
        super().__init__(redact(" ".join(message.split())))


# -- scopes -------------------------------------------------------------------------------

REQUIRED_SCOPES = frozenset(
    {
        "app_mentions:read",
        "chat:write",
        "commands",
        "channels:history",
        "groups:history",
        "users:read",
        "usergroups:read",
        "files:read",
        "files:write",
    }
)
"""The bot scopes manifest.yaml asks for; doctor names any the token lacks."""

OPTIONAL_SCOPES = frozenset({"files:read", "files:write"})
"""The scopes the bot runs without (a start only warns): a turn that needs one says in its
thread what it could not do (a file left out, a diff not attached)."""


def missing_scopes(auth: AsyncSlackResponse) -> list[str]:
    """The required scopes an auth.test answer's ``X-OAuth-Scopes`` does not list, sorted;
    none when Slack did not send the header (it always does for a bot token)."""
    headers = {str(k).lower(): v for k, v in auth.headers.items()}
    granted = headers.get("x-oauth-scopes")
    if isinstance(granted, list):  # some transports give a header's values as a list
        granted = ",".join(str(v) for v in granted)
    if granted is None:
        return []
    return sorted(REQUIRED_SCOPES - {s.strip() for s in str(granted).split(",")})


def scopes_problem(missing: list[str]) -> str:
    return (
        f"SLACK_BOT_TOKEN lacks the scopes {', '.join(missing)}: add them under the app's "
        "OAuth & Permissions (manifest.yaml lists them all) and reinstall the app to the "
        "workspace."
    )


# -- Slack ---------------------------------------------------------------------------------

TOKEN_ERRORS: Final = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
"""Slack's answers to a token it does not accept at all."""

TOKEN_FIXES: Final[Mapping[TokenSetting, str]] = {
    "SLACK_BOT_TOKEN": (
        "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page into "
        "SLACK_BOT_TOKEN (install the app to the workspace first)"
    ),
    "SLACK_APP_TOKEN": (
        "create an app-level token with the connections:write scope under the app's Basic "
        "Information > App-Level Tokens and put it (xapp-…) in SLACK_APP_TOKEN"
    ),
}

PROXY_VARIABLES: Final = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
"""The variables slack-sdk takes its proxy from, first set wins (it reads them itself)."""


async def authenticate(client: AsyncWebClient, settings: Settings) -> AsyncSlackResponse:
    """``auth.test`` with the bot token: its answer, or a :class:`StartupProblem` when Slack
    is unreachable, refuses the token or the token lacks a scope the bot cannot run without."""
    try:
        auth = await client.auth_test()
    except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise slack_problem(exc, settings, setting="SLACK_BOT_TOKEN", method="auth.test") from None
    essential = [scope for scope in missing_scopes(auth) if scope not in OPTIONAL_SCOPES]
    if essential:
        raise StartupProblem(scopes_problem(essential))
    return auth


SOCKET_RATE_LIMIT_WAITS = 3
"""How often a start waits out a rate-limited ``apps.connections.open`` (Tier 1: one a minute
may be all a fast restart loop gets) before it gives up."""


async def open_socket_url(client: AsyncWebClient, settings: Settings) -> str:
    """``apps.connections.open`` with the app token: the Socket Mode WebSocket URL, or a
    :class:`StartupProblem` (token refused, Socket Mode not enabled, Slack unreachable)."""
    assert settings.slack_app_token is not None
    token = settings.slack_app_token.get_secret_value()
    for attempt in range(SOCKET_RATE_LIMIT_WAITS + 1):
        try:
            response = await client.apps_connections_open(app_token=token)
            return str(response["url"])
        except SlackApiError as exc:
            if exc.response.status_code == 429 and attempt < SOCKET_RATE_LIMIT_WAITS:
                await asyncio.sleep(_retry_after(exc.response.headers))
                continue
            raise slack_problem(
                exc, settings, setting="SLACK_APP_TOKEN", method="apps.connections.open"
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise slack_problem(
                exc, settings, setting="SLACK_APP_TOKEN", method="apps.connections.open"
            ) from None
    raise AssertionError("unreachable: the last attempt returns or raises")


def _retry_after(headers: Mapping[str, Any]) -> float:
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    value = value[0] if isinstance(value, list) and value else value
    try:
        return min(60.0, max(0.0, float(str(value))))
    except ValueError:
        return 1.0


def slack_problem(
    exc: BaseException, settings: Settings, *, setting: TokenSetting, method: str
) -> StartupProblem:
    """What a failed Slack call at start means, and what to do: a refusal (the token, Socket
    Mode, a page that is not Slack's API) or a call that never reached Slack."""
    if isinstance(exc, SlackApiError):
        return StartupProblem(_refusal(exc, settings, setting=setting, method=method))
    return StartupProblem(_unreachable(exc, settings, method=method))


def _refusal(exc: SlackApiError, settings: Settings, *, setting: TokenSetting, method: str) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = data.get("error")
    status = exc.response.status_code
    url = f"SLACK_API_URL={settings.slack_api_url}"
    if error in TOKEN_ERRORS:
        return f"Slack refused {setting} ({error}): {TOKEN_FIXES[setting]}."
    if error == "not_allowed_token_type":
        kind = "a bot token (xoxb-…)" if setting == "SLACK_BOT_TOKEN" else "an app-level token"
        return f"Slack refused {setting} ({error}): it is not {kind}; {TOKEN_FIXES[setting]}."
    if status == 429:
        return (
            f"Slack rate-limited {method} at start (HTTP 429): another process may be "
            "restarting with the same token; wait a minute and start again."
        )
    if setting == "SLACK_APP_TOKEN" and error == "missing_scope":
        return f"SLACK_APP_TOKEN lacks the connections:write scope: {TOKEN_FIXES[setting]}."
    if setting == "SLACK_APP_TOKEN" and isinstance(error, str):
        # Slack names no dedicated error for an app whose Socket Mode is off: what it answers
        # to a token it accepts, short of a URL, is this.
        return (
            f"Slack would not open a Socket Mode connection for SLACK_APP_TOKEN ({error}): turn "
            "on Socket Mode in the app's settings (Settings > Socket Mode), or serve in HTTP "
            "mode (serve --http, with SLACK_SIGNING_SECRET)."
        )
    if isinstance(error, str):
        return f"Slack refused {method} ({error}) at {url}: see https://api.slack.com/methods/{method}."
    if status >= 500:
        also = "" if _default_api_url(settings) else f", or {url} is not Slack's Web API"
        return (
            f"Slack answered {method} with HTTP {status} at {url}: Slack may be down "
            f"(https://slack-status.com){also}; start again later."
        )
    return (
        f"{url} did not answer {method} like Slack's Web API (HTTP {status}, no Slack JSON): "
        f"set SLACK_API_URL to {DEFAULT_SLACK_API_URL} or leave it unset."
    )


def _unreachable(exc: BaseException, settings: Settings, *, method: str) -> str:
    url = f"SLACK_API_URL={settings.slack_api_url}"
    proxy = _proxy()
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        name, shown = proxy or ("HTTPS_PROXY", "the proxy")
        if exc.status == 407:
            return (
                f"Slack is unreachable through the proxy {name}={shown}: it wants credentials "
                f"(HTTP 407); put them in {name} as http://USER:PASSWORD@host:port."
            )
        return (
            f"Slack is unreachable through the proxy {name}={shown}: it answered HTTP "
            f"{exc.status} to a connection to {urlsplit(settings.slack_api_url).netloc}; fix "
            f"{name} or what the proxy lets through, or unset {name} for a direct connection."
        )
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        name, shown = proxy or ("HTTPS_PROXY", "the proxy")
        return (
            f"Slack is unreachable: the proxy {name}={shown} {_os_reason(exc.os_error)}; "
            f"fix {name}, or unset it for a direct connection."
        )
    through = f" through the proxy {proxy[0]}={proxy[1]}" if proxy else ""
    network = (
        "check this machine's network and DNS, or set HTTPS_PROXY if it reaches the "
        "internet through a proxy"
        if _default_api_url(settings)
        else f"fix SLACK_API_URL (unset, it is {DEFAULT_SLACK_API_URL})"
    )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"Slack is unreachable at {url}: {exc.host} does not resolve (DNS); {network}."
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = exc.certificate_error
        detail = getattr(reason, "verify_message", None) or str(reason)
        return (
            f"Slack is unreachable at {url}: the TLS certificate of {exc.host}:{exc.port} is "
            f"not trusted ({detail}){through}; if a proxy or firewall inspects TLS, add its CA "
            f"certificate to the file SSL_CERT_FILE names, else {network}."
        )
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return (
            f"Slack is unreachable at {url}: the TLS handshake failed{through}; {network} "
            "(an https:// URL must point at a TLS port)."
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return (
            f"Slack is unreachable at {url}: {exc.host}:{exc.port} "
            f"{_os_reason(exc.os_error)}{through}; {network}."
        )
    if isinstance(exc, TimeoutError):
        return (
            f"Slack did not answer {method} within SLACK_TIMEOUT_SECONDS="
            f"{settings.slack_timeout_seconds:g} at {url}{through}; {network}, or raise "
            "SLACK_TIMEOUT_SECONDS."
        )
    return f"Slack is unreachable at {url}{through} ({type(exc).__name__}: {exc}); {network}."


def _os_reason(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError) or error.errno == errno.ECONNREFUSED:
        return "refused the connection"
    if isinstance(error, TimeoutError):
        return "did not answer the connection"
    if isinstance(error, socket.gaierror):
        return "does not resolve (DNS)"
    return f"cannot be connected to ({error.strerror or type(error).__name__})"


def _proxy() -> tuple[str, str] | None:
    """The proxy variable slack-sdk uses and its URL as ``scheme://host:port`` (never the
    credentials it may carry), if one is set."""
    for name in PROXY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            parts = urlsplit(value if "://" in value else f"http://{value}")
            try:
                port = f":{parts.port}" if parts.port else ""
            except ValueError:
                port = ""
            return name, f"{parts.scheme}://{parts.hostname or '?'}{port}"
    return None


def _default_api_url(settings: Settings) -> bool:
    return settings.slack_api_url == DEFAULT_SLACK_API_URL


# -- Redis ---------------------------------------------------------------------------------

REDIS_START_TIMEOUT = 10.0
"""Seconds a start waits for Redis to answer PING (a TLS handshake with a plain server, or a
firewall dropping packets, would otherwise hold it for a minute or more)."""


async def ping_redis(client: aioredis.Redis, settings: Settings) -> None:
    """PING Redis as the bot will use it; a :class:`StartupProblem` when it does not answer,
    wants a password REDIS_URL does not hold, or refuses the one it does."""
    where = f"REDIS_URL={settings.redis_url_redacted}"
    try:
        await asyncio.wait_for(cast(Awaitable[Any], client.ping()), REDIS_START_TIMEOUT)
    except redis.exceptions.AuthenticationError as exc:
        text = str(exc).lower()
        if "without any password" in text or "no password is set" in text:
            raise StartupProblem(
                f"{where} carries a password but that Redis has none: remove it from "
                "REDIS_URL (or give the server one with requirepass)."
            ) from None
        if "invalid" in text or "wrongpass" in text:
            raise StartupProblem(
                f"Redis at {where} refused its password (WRONGPASS): correct the password "
                "(and user) in REDIS_URL."
            ) from None
        raise StartupProblem(
            f"Redis at {where} requires a password (NOAUTH): put it in REDIS_URL as "
            "redis://:PASSWORD@host:port/db (redis://USER:PASSWORD@… for an ACL user)."
        ) from None
    except (TimeoutError, redis.exceptions.TimeoutError):
        raise StartupProblem(
            f"Redis at {where} did not answer within {REDIS_START_TIMEOUT:g} s: check its "
            "host and port, and rediss:// (TLS) against redis:// (plain)."
        ) from None
    except (redis.exceptions.ConnectionError, OSError) as exc:
        cause = exc.__context__ if isinstance(exc.__context__, OSError) else exc
        reason = _os_reason(cause) if isinstance(cause, OSError) else "cannot be connected to"
        raise StartupProblem(
            f"Redis at {where} {reason}: start redis-server (scripts/run-bot starts one when "
            "REDIS_URL is unset) or point REDIS_URL at a running one."
        ) from None
    except redis.exceptions.ResponseError as exc:
        raise StartupProblem(f"Redis at {where} refused PING ({exc}): fix REDIS_URL.") from None


# -- Codex ---------------------------------------------------------------------------------

CODEX_VERSION_TIMEOUT = 30.0
"""Seconds ``codex --version`` may take (a first run of the npm wrapper is the slow case)."""


async def check_codex_binary(settings: Settings) -> None:
    """With no CODEX_URL the bot spawns CODEX_BIN: it must exist and be CODEX_VERSION, the
    release the bot and scripts/bootstrap are pinned to; else a :class:`StartupProblem`."""
    if settings.codex_url:
        return
    binary, wanted = settings.codex_bin, settings.codex_version
    install = (
        f"run scripts/bootstrap (it installs @openai/codex@{wanted} in .tools/codex), set "
        f"CODEX_BIN to a codex {wanted}, or CODEX_URL to a running app-server"
    )
    try:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise StartupProblem(
            f"the codex binary CODEX_BIN={binary} is not found: {install}."
        ) from None
    except PermissionError:
        raise StartupProblem(
            f"the codex binary CODEX_BIN={binary} is not executable: {install}."
        ) from None
    except OSError as exc:
        raise StartupProblem(
            f"the codex binary CODEX_BIN={binary} cannot be run ({exc.strerror}): {install}."
        ) from None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CODEX_VERSION_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise StartupProblem(
            f"CODEX_BIN={binary} --version did not answer within {CODEX_VERSION_TIMEOUT:g} s: "
            f"{install}."
        ) from None
    words = out.decode(errors="replace").split()
    version = words[-1] if words else ""
    if proc.returncode != 0 or not words or words[0] != "codex-cli":
        raise StartupProblem(
            f"CODEX_BIN={binary} is not the Codex CLI (`--version` answered "
            f"{' '.join(words)[:60] or 'nothing'}, exit status {proc.returncode}): {install}."
        )
    if version != wanted:
        raise StartupProblem(
            f"CODEX_BIN={binary} is codex {version}, not {wanted} (CODEX_VERSION, the release "
            f"the bot is pinned to): run scripts/bootstrap to install {wanted}, or set "
            f"CODEX_VERSION={version} to run this one."
        )


async def check_codex_handshake(settings: Settings) -> None:
    """Connect to every app-server (or spawn the stdio one) and initialize it (doctor only:
    a running bot starts without Codex and reconnects, each turn telling its thread)."""
    pool = CodexPool(
        settings.codex_endpoints(),
        overload_retries=1,
        request_timeout=settings.codex_request_timeout,
    )
    try:
        await pool.start()
    except AuthError:
        raise StartupProblem(
            "Codex refused our credentials (HTTP 401): check CODEX_AUTH and that "
            "CODEX_TOKEN_FILE / CODEX_SHARED_SECRET_FILE (and CODEX_JWT_ISSUER / "
            "CODEX_JWT_AUDIENCE) match the app-server's --ws-* flags."
        ) from None
    except CodexError as exc:
        target = settings.codex_url or f"{settings.codex_bin} app-server (stdio)"
        raise StartupProblem(
            f"Codex handshake failed with {target}: {type(exc).__name__}: {exc}. Start "
            "`codex app-server --listen ws://IP:PORT` or fix CODEX_URL."
        ) from None
    finally:
        await pool.close()


# -- the HTTP port -------------------------------------------------------------------------


def listen_problem(exc: OSError, host: str, port: int) -> StartupProblem:
    """Why the HTTP server (events, health, metrics) could not listen on HOST:PORT."""
    if exc.errno == errno.EADDRINUSE:
        return StartupProblem(
            f"port {port} on {host} is already in use (PORT / serve --port): stop what listens "
            "there or choose another port."
        )
    if exc.errno == errno.EACCES:
        return StartupProblem(
            f"port {port} on {host} needs privileges (PORT / serve --port): use a port above 1023."
        )
    return StartupProblem(
        f"cannot listen on {host}:{port} ({exc.strerror or exc}): fix HOST or PORT."
    )


# -- doctor --------------------------------------------------------------------------------


async def check_slack(settings: Settings) -> str | None:
    """None when the bot token works with every scope, else what is wrong and how to fix it."""
    async with _slack_client(settings) as client:
        try:
            auth = await authenticate(client, settings)
        except StartupProblem as problem:
            return str(problem)
    missing = missing_scopes(auth)  # the optional ones too: the start only warns of them
    return scopes_problem(missing) if missing else None


async def check_socket_mode(settings: Settings) -> str | None:
    """None when Slack opens a Socket Mode URL for SLACK_APP_TOKEN (nothing connects to it)."""
    async with _slack_client(settings) as client:
        try:
            await open_socket_url(client, settings)
        except StartupProblem as problem:
            return str(problem)
    return None


async def check_redis(settings: Settings) -> str | None:
    client = aioredis.from_url(settings.redis_url, socket_timeout=None)
    try:
        await ping_redis(client, settings)
    except StartupProblem as problem:
        return str(problem)
    finally:
        await client.aclose()
    return None


async def check_codex(settings: Settings) -> str | None:
    try:
        await check_codex_binary(settings)
        await check_codex_handshake(settings)
    except StartupProblem as problem:
        return str(problem)
    return None


@contextlib.asynccontextmanager
async def _slack_client(settings: Settings) -> AsyncIterator[AsyncWebClient]:
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.slack_timeout_seconds)
    )
    try:
        yield AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            session=session,
        )
    finally:
        await session.close()


async def run_doctor(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Print one line per check; exit status 0 only when all pass."""
    checks: list[tuple[str, Callable[[Settings], Awaitable[str | None]]]] = [("slack", check_slack)]
    if settings.slack_app_token is not None:
        checks.append(("socket mode", check_socket_mode))
    checks += [("redis", check_redis), ("codex", check_codex)]
    failures = 0
    for name, check in checks:
        problem = await check(settings)
        if problem is None:
            print(f"ok    {name}", file=out)
        else:
            failures += 1
            print(f"FAIL  {name}: {problem}", file=out)
    for channel in sorted(settings.codex_channel_policies):
        print(f"info  channel {channel}: {describe_policy(settings, channel)}", file=out)
    return 1 if failures else 0


def describe_policy(settings: Settings, channel: str) -> str:
    """The effective settings of new threads in ``channel`` (its overrides over the global
    ones), one line: what an operator checks before pointing a team at it."""
    policy = settings.channel_policy(channel)
    shown = [
        f"{name}={value}"
        for name, value in (
            ("cwd", policy.cwd),
            ("model", policy.model),
            ("effort", policy.effort),
            ("approval_policy", policy.approval_policy),
            ("sandbox", policy.sandbox),
        )
    ]
    return ", ".join(shown).replace("=None", "=(server default)")

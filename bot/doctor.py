"""``codex-slack doctor``: check Slack auth, the Codex handshake and Redis, and say how to fix."""

from __future__ import annotations

import sys
from typing import Any, TextIO, cast

import redis.asyncio as aioredis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from codex_client import AuthError, CodexError, CodexPool


async def check_slack(settings: Settings) -> str | None:
    """None when the bot token works, else what is wrong and how to fix it."""
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "unknown"
        return (
            f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) "
            "from the app's OAuth & Permissions page, and reinstall the app if scopes changed."
        )
    except OSError as exc:
        return f"Slack is unreachable at SLACK_API_URL={settings.slack_api_url}: {exc}"
    finally:
        if client.session is not None:
            await client.session.close()
    granted = auth.headers.get("X-OAuth-Scopes") or auth.headers.get("x-oauth-scopes")
    if granted is not None:
        missing = sorted(REQUIRED_SCOPES - {s.strip() for s in str(granted).split(",")})
        if missing:
            return (
                f"the app lacks the scopes {', '.join(missing)}: add them under OAuth & "
                "Permissions (manifest.yaml lists them all) and reinstall the app."
            )
    return None


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


async def check_redis(settings: Settings) -> str | None:
    client = aioredis.from_url(settings.redis_url, socket_timeout=None)
    try:
        await cast(Any, client.ping())  # redis-py 7 types it sync|async, 8 async
    except Exception as exc:
        return (
            f"Redis at REDIS_URL does not answer ({type(exc).__name__}): start redis-server "
            "or point REDIS_URL at a running one."
        )
    finally:
        await client.aclose()
    return None


async def check_codex(settings: Settings) -> str | None:
    pool = CodexPool(
        settings.codex_endpoints(),
        overload_retries=1,
        request_timeout=settings.codex_request_timeout,
    )
    try:
        await pool.start()
    except AuthError:
        return (
            "Codex refused our credentials (HTTP 401): check CODEX_AUTH and that "
            "CODEX_TOKEN_FILE / CODEX_SHARED_SECRET_FILE (and CODEX_JWT_ISSUER / "
            "CODEX_JWT_AUDIENCE) match the app-server's --ws-* flags."
        )
    except CodexError as exc:
        target = settings.codex_url or f"{settings.codex_bin} app-server (stdio)"
        return (
            f"Codex handshake failed with {target}: {type(exc).__name__}: {exc}. Start "
            "`codex app-server --listen ws://IP:PORT` or fix CODEX_URL."
        )
    finally:
        await pool.close()
    return None


async def run_doctor(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Print one line per check; exit status 0 only when all pass."""
    failures = 0
    for name, check in (("slack", check_slack), ("redis", check_redis), ("codex", check_codex)):
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

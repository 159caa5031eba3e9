"""The bot's settings, from the environment and an optional ``.env`` file.

Every knob is a field of :class:`Settings`, documented where it is declared; the environment
variable is the field name in upper case (``slack_bot_token`` <- ``SLACK_BOT_TOKEN``). A missing
or wrong setting fails at construction with a :class:`pydantic.ValidationError`;
:func:`describe_validation_error` turns it into lines that name each offending variable and
never echo its value. Secrets are :class:`pydantic.SecretStr` and stay masked in ``repr``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from codex_client import Endpoint

__all__ = [
    "ACTIONS",
    "Action",
    "ApprovalPolicy",
    "ChannelPolicy",
    "Sandbox",
    "Settings",
    "default_codex_bin",
    "describe_validation_error",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIN_SHARED_SECRET_BYTES = 32
DEFAULT_SLACK_API_URL: Final = "https://slack.com/api/"
PINNED_CODEX_VERSION: Final = "0.171.0"
"""The Codex CLI release the bot is built and tested against; scripts/bootstrap's default
CODEX_VERSION is the same (a unit test keeps them equal)."""

Action = Literal["mention", "steer", "recap", "stop", "approve"]
ACTIONS: tuple[Action, ...] = ("mention", "steer", "recap", "stop", "approve")
Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]
ApprovalPolicy = Literal["untrusted", "on-request", "never"]
IdList = Annotated[list[str], NoDecode]
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


def default_codex_bin() -> str:
    """The project's pinned Codex (``.tools/codex``, native binary first), else ``codex``."""
    base = PROJECT_ROOT / ".tools" / "codex" / "node_modules"
    native = sorted(base.glob("@openai/codex-linux-*/vendor/*/bin/codex"))
    for candidate in [*native, base / ".bin" / "codex"]:
        if candidate.is_file():
            return str(candidate)
    return "codex"


class ChannelPolicy(BaseModel):
    """How Codex threads started in one channel run; None keeps the global default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approval_policy: ApprovalPolicy | None = None
    sandbox: Sandbox | None = None
    cwd: str | None = None
    """The channel's project: the working directory of its threads (on the app-server)."""
    model: str | None = None
    effort: Effort | None = None
    """Reasoning effort of the channel's turns."""


class Settings(BaseSettings):
    """Everything configurable, read once at start."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
        frozen=True,
    )

    # -- Slack ------------------------------------------------------------------------------
    slack_bot_token: SecretStr
    """SLACK_BOT_TOKEN: the bot token (``xoxb-…``) used for every Web API call."""
    slack_signing_secret: SecretStr | None = None
    """SLACK_SIGNING_SECRET: verifies HTTP requests from Slack; required in HTTP mode."""
    slack_app_token: SecretStr | None = None
    """SLACK_APP_TOKEN: app-level token (``xapp-…``) for Socket Mode; when set, the default mode."""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    """SLACK_API_URL: base URL of the Web API (a test fake's URL in tests); ends with ``/``."""
    slack_update_budget_per_minute: int = Field(default=50, ge=2)
    """SLACK_UPDATE_BUDGET_PER_MINUTE: ``chat.update`` calls per minute for the whole workspace,
    shared by every thread and replica (Slack's Tier 3 is about 50)."""
    slack_min_edit_interval_seconds: float = Field(default=1.0, ge=0)
    """SLACK_MIN_EDIT_INTERVAL_SECONDS: the shortest time between two edits of one message."""
    slack_retry_seconds: float = Field(default=300.0, gt=0)
    """SLACK_RETRY_SECONDS: how long a reply's final text (and its first post) is retried while
    Slack fails (5xx, timeouts, dropped connections, 429s) before it is given up and logged."""
    slack_timeout_seconds: float = Field(default=15.0, gt=0)
    """SLACK_TIMEOUT_SECONDS: how long one Web API call may take before it counts as failed."""
    slack_delivery: Literal["auto", "native", "edit"] = "auto"
    """SLACK_DELIVERY: how replies stream. ``auto`` uses Slack's native streams
    (``chat.startStream``…) where the workspace accepts them and the start window has room,
    else a posted message edited with ``chat.update``; ``native`` always tries a stream first;
    ``edit`` never streams natively. See the README for why ``auto`` is the default."""
    slack_rate_limits: dict[str, int] = Field(default_factory=dict)
    """SLACK_RATE_LIMITS: JSON of calls per minute per Slack method, overriding Slack's
    published windows (see bot/lanes.py), e.g. ``{"chat.appendStream": 200}``.
    ``chat.postMessage`` counts per channel, the others per workspace."""
    slack_first_post_seconds: float = Field(default=10.0, ge=0)
    """SLACK_FIRST_POST_SECONDS: how long a new reply shows only the thread's status
    ("is thinking…", "is running `pytest`…") while waiting for its first text, so the first
    text is a new message rather than an edit that waits for the scarce ``chat.update``
    window; past it, the reply opens anyway (a stream showing the tool timeline, or a
    placeholder with a Stop button)."""
    slack_thread_status: bool = True
    """SLACK_THREAD_STATUS: set the thread's status (``assistant.threads.setStatus``) while a
    reply shows nothing; off for apps without the assistant feature."""
    slack_stream_rotate_seconds: float = Field(default=240.0, gt=0)
    """SLACK_STREAM_ROTATE_SECONDS: a native stream older than this is closed and the reply
    goes on in a new one (Slack ends streams after about 5 minutes)."""

    # -- Codex ------------------------------------------------------------------------------
    codex_url: str | None = None
    """CODEX_URL: comma-separated ``ws://``/``wss://`` app-server URLs; unset spawns
    ``CODEX_BIN app-server`` over stdio."""
    codex_auth: Literal["none", "capability-token", "signed-bearer-token"] = "none"
    """CODEX_AUTH: how the bot authenticates to CODEX_URL (the app-server's ``--ws-auth``)."""
    codex_token_file: Path | None = None
    """CODEX_TOKEN_FILE: file holding the capability token (CODEX_AUTH=capability-token)."""
    codex_shared_secret_file: Path | None = None
    """CODEX_SHARED_SECRET_FILE: file holding the HS256 secret, at least 32 bytes once trimmed
    (CODEX_AUTH=signed-bearer-token)."""
    codex_jwt_issuer: str | None = None
    """CODEX_JWT_ISSUER: ``iss`` of the bot's JWTs; must match the server's ``--ws-issuer``."""
    codex_jwt_audience: str | None = None
    """CODEX_JWT_AUDIENCE: ``aud`` of the bot's JWTs; must match the server's ``--ws-audience``."""
    codex_ca_file: Path | None = None
    """CODEX_CA_FILE: extra CA bundle to trust for ``wss://`` (a private CA)."""
    codex_tls_verify: bool = True
    """CODEX_TLS_VERIFY: false disables certificate checks for ``wss://``; for tests only."""
    codex_bin: str = Field(default_factory=default_codex_bin)
    """CODEX_BIN: the codex binary spawned when CODEX_URL is unset; default: the project's
    pinned install in ``.tools/codex`` if present, else ``codex`` on PATH."""
    codex_version: str = Field(default=PINNED_CODEX_VERSION, pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    """CODEX_VERSION: the release CODEX_BIN must report (``codex --version``) for the bot to
    start with the stdio app-server; scripts/bootstrap installs the same one. Set it to run
    another release on purpose (CI runs the suite against others this way)."""
    codex_request_timeout: float = Field(default=60.0, gt=0)
    """CODEX_REQUEST_TIMEOUT: seconds to wait for an app-server answer (or a reconnect) before a
    request fails and the thread is told Codex is unreachable."""
    codex_model: str | None = None
    """CODEX_MODEL: model for new threads; unset uses the app-server's configured default."""
    codex_cwd: str | None = None
    """CODEX_CWD: working directory of new threads (and of the stdio child)."""
    codex_sandbox: Sandbox | None = None
    """CODEX_SANDBOX: sandbox of new threads; unset uses the app-server's default."""
    codex_approval_policy: ApprovalPolicy | None = None
    """CODEX_APPROVAL_POLICY: when Codex asks before acting; unset uses the server's default."""
    codex_effort: Effort | None = None
    """CODEX_EFFORT: reasoning effort of turns; unset uses the model's default."""
    codex_channel_policies: dict[str, ChannelPolicy] = Field(default_factory=dict)
    """CODEX_CHANNEL_POLICIES: JSON of per-channel overrides of ``approval_policy``,
    ``sandbox``, ``cwd`` (the channel's repository), ``model`` and ``effort``, e.g.
    ``{"C123": {"cwd": "/repos/frontend", "sandbox": "workspace-write", "effort": "high"}}``.
    With the stdio app-server (no CODEX_URL) each ``cwd`` must exist at start."""

    files_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "codex-slack")
    """FILES_DIR: where files attached in Slack are saved for Codex (a directory per thread);
    the app-server must be able to read it (with CODEX_URL, a volume both pods share)."""
    file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    """FILE_MAX_BYTES: the largest attached file handed to Codex (larger ones are named in
    the thread as left out)."""
    file_max_count: int = Field(default=10, ge=0)
    """FILE_MAX_COUNT: how many files one turn takes; 0 turns attachments off."""
    codex_questions: bool = True
    """CODEX_QUESTIONS: let Codex ask the user questions in the thread (``request_user_input``,
    answered with buttons or a modal); false leaves the app-server's own setting."""
    diff_max_bytes: int = Field(default=1024 * 1024, ge=0)
    """DIFF_MAX_BYTES: the largest diff of a turn attached to its thread as a ``.diff`` file
    (a larger one is named, not attached)."""
    thread_context_chars: int = Field(default=8000, ge=0)
    """THREAD_CONTEXT_CHARS: how much of the Slack thread a turn's input may carry (the
    messages Codex has not seen, newest kept); 0 sends the mention alone."""

    codex_reattach_seconds: float = Field(default=120.0, gt=0)
    """CODEX_REATTACH_SECONDS: how long a turn whose Codex connection dropped is tried again
    (the pool reconnects meanwhile) before its reply says it may be incomplete."""

    # -- who may do what (comma-separated Slack ids; empty = everyone) ----------------------
    allowed_channels: IdList = Field(default_factory=list)
    """ALLOWED_CHANNELS: channels where the bot acts at all."""
    allowed_users: IdList = Field(default_factory=list)
    """ALLOWED_USERS: users (``U…``) or user groups (``S…``) the bot serves at all."""
    allow_mention_users: IdList = Field(default_factory=list)
    """ALLOW_MENTION_USERS: who may start turns by mentioning the bot."""
    allow_mention_channels: IdList = Field(default_factory=list)
    """ALLOW_MENTION_CHANNELS: where turns may be started."""
    allow_steer_users: IdList = Field(default_factory=list)
    """ALLOW_STEER_USERS: who may steer a running turn."""
    allow_steer_channels: IdList = Field(default_factory=list)
    """ALLOW_STEER_CHANNELS: where turns may be steered."""
    allow_recap_users: IdList = Field(default_factory=list)
    """ALLOW_RECAP_USERS: who may ask for a recap."""
    allow_recap_channels: IdList = Field(default_factory=list)
    """ALLOW_RECAP_CHANNELS: where recaps may be asked for."""
    allow_stop_users: IdList = Field(default_factory=list)
    """ALLOW_STOP_USERS: who may stop a running turn."""
    allow_stop_channels: IdList = Field(default_factory=list)
    """ALLOW_STOP_CHANNELS: where turns may be stopped."""
    allow_approve_users: IdList = Field(default_factory=list)
    """ALLOW_APPROVE_USERS: who may answer approvals at all (even for their own turns)."""
    allow_approve_channels: IdList = Field(default_factory=list)
    """ALLOW_APPROVE_CHANNELS: where approvals may be answered."""
    approvers: IdList = Field(default_factory=list)
    """APPROVERS: users or groups who may answer any approval, besides the turn's starter."""

    # -- process ----------------------------------------------------------------------------
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", repr=False)
    """REDIS_URL: the Redis shared by all replicas (may hold a password: never shown)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """LOG_LEVEL: the root log level."""
    host: str = "0.0.0.0"  # noqa: S104  # a container's server must listen beyond loopback
    """HOST: address the HTTP server binds (events, health and metrics)."""
    port: int = Field(default=3000, ge=0, le=65535)
    """PORT: port of the HTTP server (events in HTTP mode, health and metrics in both)."""
    shutdown_drain_seconds: float = Field(default=20.0, ge=0)
    """SHUTDOWN_DRAIN_SECONDS: on SIGTERM, how long turns in flight may run on before they are
    handed over to another replica; keep it under the pod's termination grace period (the
    chart sets that to this plus 10 s)."""
    replica_heartbeat_seconds: float = Field(default=3.0, gt=0)
    """REPLICA_HEARTBEAT_SECONDS: a replica that stops beating (crash, OOM, node loss) has its
    threads taken over by another replica after at most about this long."""

    # -- validation -------------------------------------------------------------------------

    @field_validator(
        "allowed_channels",
        "allowed_users",
        *(f"allow_{action}_{kind}" for action in ACTIONS for kind in ("users", "channels")),
        "approvers",
        mode="before",
    )
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("slack_rate_limits")
    @classmethod
    def _known_lanes(cls, value: dict[str, int]) -> dict[str, int]:
        from bot.lanes import DEFAULT_PER_MINUTE  # config stays light

        unknown = sorted(set(value) - set(DEFAULT_PER_MINUTE))
        if unknown:
            known = ", ".join(DEFAULT_PER_MINUTE)
            raise ValueError(f"unknown Slack methods {', '.join(unknown)}; known: {known}")
        if any(limit < 2 for limit in value.values()):
            raise ValueError("every method needs at least 2 calls per minute")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if not token.startswith("xoxb-"):
            raise ValueError(
                f"must be a bot token, starting with xoxb-, not {_token_kind(token)}: copy the "
                "Bot User OAuth Token from the app's OAuth & Permissions page"
                + (
                    " (the xapp- token goes in SLACK_APP_TOKEN)"
                    if token.startswith("xapp-")
                    else ""
                )
            )
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            token = value.get_secret_value()
            raise ValueError(
                f"must be an app-level token, starting with xapp-, not {_token_kind(token)}: "
                "create one with the connections:write scope under the app's Basic Information "
                "> App-Level Tokens"
                + (
                    " (the xoxb- token goes in SLACK_BOT_TOKEN)"
                    if token.startswith("xoxb-")
                    else ""
                )
            )
        return value

    @field_validator("codex_version", mode="before")
    @classmethod
    def _pinned_when_empty(cls, value: Any) -> Any:
        # As in scripts/bootstrap, an empty CODEX_VERSION means the pin.
        return PINNED_CODEX_VERSION if value == "" else value

    @field_validator("slack_signing_secret")
    @classmethod
    def _empty_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value if value.endswith("/") else f"{value}/"

    @field_validator("codex_url")
    @classmethod
    def _codex_url(cls, value: str | None) -> str | None:
        urls = [part.strip() for part in (value or "").split(",") if part.strip()]
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("ws", "wss") or not parts.netloc:
                # Only the scheme is shown: a URL may carry credentials.
                raise ValueError(
                    f"each URL must start with ws:// or wss:// (one starts with {parts.scheme!r})"
                )
        return ",".join(urls) or None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @_model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)"
            )
        if self.codex_auth != "none" and not self.codex_url:
            raise ValueError(f"CODEX_AUTH={self.codex_auth} needs CODEX_URL (stdio has no auth)")
        if self.codex_auth == "capability-token":
            token = _read_file("CODEX_TOKEN_FILE", self.codex_token_file, self.codex_auth)
            if not token:
                raise ValueError("CODEX_TOKEN_FILE is empty")
        if self.codex_auth == "signed-bearer-token":
            secret = _read_file(
                "CODEX_SHARED_SECRET_FILE", self.codex_shared_secret_file, self.codex_auth
            )
            if len(secret) < MIN_SHARED_SECRET_BYTES:
                raise ValueError(
                    f"CODEX_SHARED_SECRET_FILE must hold at least {MIN_SHARED_SECRET_BYTES} "
                    "bytes once trimmed (the app-server refuses shorter secrets)"
                )
        if self.codex_ca_file is not None and not self.codex_ca_file.is_file():
            raise ValueError(f"CODEX_CA_FILE {self.codex_ca_file} is not a readable file")
        if not self.codex_url:
            # The stdio app-server runs here, so its directories must be here too (a remote
            # one's are on its own machine, where the chart mounts them).
            for channel, policy in self.codex_channel_policies.items():
                if policy.cwd is not None and not Path(policy.cwd).is_dir():
                    raise ValueError(
                        f"CODEX_CHANNEL_POLICIES: the cwd of {channel}, {policy.cwd}, "
                        "is not a directory"
                    )
        return self

    # -- derived values ---------------------------------------------------------------------

    @property
    def codex_urls(self) -> list[str]:
        """The app-server URLs of CODEX_URL; empty for the stdio child."""
        return self.codex_url.split(",") if self.codex_url else []

    @property
    def default_mode(self) -> Literal["socket", "http"]:
        """Socket Mode when SLACK_APP_TOKEN is set, else HTTP."""
        return "socket" if self.slack_app_token is not None else "http"

    @property
    def redis_url_redacted(self) -> str:
        """REDIS_URL with any password replaced by ``***``, for messages and logs."""
        parts = urlsplit(self.redis_url)
        if parts.password is None:
            return self.redis_url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()

    def channel_policy(self, channel: str) -> ChannelPolicy:
        """How new threads in ``channel`` run: its overrides, else the global settings."""
        override = self.codex_channel_policies.get(channel, ChannelPolicy())
        return ChannelPolicy(
            approval_policy=override.approval_policy or self.codex_approval_policy,
            sandbox=override.sandbox or self.codex_sandbox,
            cwd=override.cwd or self.codex_cwd,
            model=override.model or self.codex_model,
            effort=override.effort or self.codex_effort,
        )

    def allows(
        self, action: Action, *, user: str, channel: str, user_groups: Collection[str] = ()
    ) -> bool:
        """Whether ``user`` (a member of ``user_groups``) may do ``action`` in ``channel``.

        Each allowlist that is set must admit the request: ALLOWED_CHANNELS and ALLOWED_USERS
        for everything, then ALLOW_<ACTION>_CHANNELS and ALLOW_<ACTION>_USERS.
        """
        who = {user, *user_groups}
        channel_lists = (self.allowed_channels, getattr(self, f"allow_{action}_channels"))
        user_lists = (self.allowed_users, getattr(self, f"allow_{action}_users"))
        return all(not ids or channel in ids for ids in channel_lists) and all(
            not ids or not who.isdisjoint(ids) for ids in user_lists
        )

    def may_approve(
        self, user: str, *, started_by: str, channel: str, user_groups: Collection[str] = ()
    ) -> bool:
        """Whether ``user`` may answer an approval of a turn that ``started_by`` started."""
        if not self.allows("approve", user=user, channel=channel, user_groups=user_groups):
            return False
        return user == started_by or not {user, *user_groups}.isdisjoint(self.approvers)

    def user_groups(self) -> set[str]:
        """The user-group ids (``S…``) named by any allowlist, which callers must resolve."""
        lists = [self.allowed_users, self.approvers]
        lists += [getattr(self, f"allow_{action}_users") for action in ACTIONS]
        return {entry for ids in lists for entry in ids if entry.startswith("S")}

    def codex_endpoints(self) -> list[Endpoint]:
        """The app-servers to connect to: one per CODEX_URL, or the stdio child when unset."""
        from codex_client import (
            CapabilityTokenAuth,
            Endpoint,
            NoAuth,
            SignedBearerTokenAuth,
            TlsOptions,
        )

        if not self.codex_urls:
            return [Endpoint(url=None, command=(self.codex_bin, "app-server"), cwd=self.codex_cwd)]
        auth: NoAuth | CapabilityTokenAuth | SignedBearerTokenAuth = NoAuth()
        if self.codex_auth == "capability-token" and self.codex_token_file is not None:
            auth = CapabilityTokenAuth(self.codex_token_file)
        elif self.codex_auth == "signed-bearer-token" and self.codex_shared_secret_file:
            auth = SignedBearerTokenAuth(
                self.codex_shared_secret_file,
                issuer=self.codex_jwt_issuer,
                audience=self.codex_jwt_audience,
            )
        tls = None
        if self.codex_ca_file is not None or not self.codex_tls_verify:
            tls = TlsOptions(ca_file=self.codex_ca_file, verify=self.codex_tls_verify)
        return [Endpoint(url=url, auth=auth, tls=tls) for url in self.codex_urls]


def _token_kind(token: str) -> str:
    """What kind of Slack token ``token`` looks like, from its prefix alone (never its value)."""
    kinds = {
        "xoxb-": "a bot token (xoxb-…)",
        "xapp-": "an app-level token (xapp-…)",
        "xoxp-": "a user token (xoxp-…)",
        "xoxe": "a token rotation token (xoxe…)",
        "xoxa-": "a workspace app token (xoxa-…)",
    }
    return next(
        (kind for prefix, kind in kinds.items() if token.startswith(prefix)),
        "a value that is no Slack token",
    )


def _read_file(name: str, path: Path | None, auth: str) -> bytes:
    """The trimmed contents of a credential file; errors name the setting, never the content."""
    if path is None:
        raise ValueError(f"CODEX_AUTH={auth} needs {name}")
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"{name} {path} cannot be read ({exc.strerror})") from None


SLACK_AND_REDIS_SECRETS: Final = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "REDIS_URL",
    "REDIS_PASSWORD",
)
"""Variables that hold the bot's own credentials (REDIS_URL may carry a password)."""


def forget_environment_secrets(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove the bot's own credentials from the process environment once :class:`Settings`
    holds them; returns the names removed.

    A spawned ``codex app-server`` (the stdio default) inherits the environment, and so do
    the commands its agents run: they must see the OpenAI key, never the Slack tokens or the
    Redis password. (Bolt also reads SLACK_BOT_TOKEN from the environment behind our back.)
    """
    env = os.environ if environ is None else environ
    removed = [name for name in SLACK_AND_REDIS_SECRETS if name in env]
    for name in removed:
        del env[name]
    return removed


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the environment variable; values are never shown."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message += ": set it in the environment or in a .env file"
        loc = [str(part) for part in error["loc"]]
        if loc:
            where = f" ({'.'.join(loc[1:])})" if len(loc) > 1 else ""
            lines.append(f"{loc[0].upper()}{where}: {message}")
        else:
            lines.append(message)
    return "\n".join(lines)

"""bot.config: settings from the environment, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings, describe_validation_error
from codex_client import CapabilityTokenAuth, NoAuth, SignedBearerTokenAuth

BOT_TOKEN = "xoxb-1-secret-bot-token"
APP_TOKEN = "xapp-1-secret-app-token"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of the developer's shell leaks into a test."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def _error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(ValidationError) as info:
        _load(monkeypatch, **env)
    return describe_validation_error(info.value)


def test_defaults_from_a_minimal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With only a bot token and an app token, every other knob has its documented default."""
    settings = _load(monkeypatch, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.slack_update_budget_per_minute == 50
    assert settings.slack_min_edit_interval_seconds == 1.0
    assert settings.port == 3000
    assert settings.codex_auth == "none"
    assert settings.codex_urls == []
    assert settings.codex_request_timeout == 60.0
    assert settings.default_mode == "socket"
    assert settings.codex_bin.endswith("codex")


def test_reads_a_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come from a .env file too; the environment wins over it."""
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\nSLACK_SIGNING_SECRET=s3cret\nPORT=4000\nOTHER=ignored\n"
    )
    monkeypatch.setenv("PORT", "5000")
    settings = Settings(_env_file=env_file)
    assert settings.port == 5000
    assert settings.default_mode == "http"
    assert settings.slack_signing_secret is not None


def test_missing_bot_token_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SLACK_BOT_TOKEN the error names it."""
    assert "SLACK_BOT_TOKEN: Field required" in _error(monkeypatch, SLACK_APP_TOKEN=APP_TOKEN)


def test_neither_app_token_nor_signing_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """One of the two Slack connection modes must be configured."""
    message = _error(monkeypatch, SLACK_BOT_TOKEN=BOT_TOKEN)
    assert "SLACK_APP_TOKEN" in message
    assert "SLACK_SIGNING_SECRET" in message


def test_wrong_token_kinds_are_named_without_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user token as bot token, or a bot token as app token, is refused by name only."""
    message = _error(
        monkeypatch, SLACK_BOT_TOKEN="xoxp-user-secret", SLACK_APP_TOKEN="xoxb-not-an-app-token"
    )
    assert "SLACK_BOT_TOKEN: must be a bot token" in message
    assert "SLACK_APP_TOKEN: must be an app-level token" in message
    assert "secret" not in message
    assert "not-an-app" not in message


def test_codex_url_must_be_websocket(monkeypatch: pytest.MonkeyPatch) -> None:
    """An http:// URL in CODEX_URL is refused, naming CODEX_URL but not the URL's secrets."""
    message = _error(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_URL="ws://a:1,http://user:hunter2@b:2",
    )
    assert message.startswith("CODEX_URL: each URL must start with ws:// or wss://")
    assert "hunter2" not in message


def test_several_codex_urls_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """CODEX_URL holds one or more comma-separated URLs."""
    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_URL=" ws://a:1 , wss://b:2 ",
    )
    assert settings.codex_urls == ["ws://a:1", "wss://b:2"]


def test_capability_token_needs_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """CODEX_AUTH=capability-token without a readable, non-empty token file names the file."""
    base = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "CODEX_URL": "ws://a:1"}
    assert "CODEX_TOKEN_FILE" in _error(monkeypatch, **base, CODEX_AUTH="capability-token")
    missing = str(tmp_path / "nope")
    assert "CODEX_TOKEN_FILE" in _error(
        monkeypatch, **base, CODEX_AUTH="capability-token", CODEX_TOKEN_FILE=missing
    )
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "CODEX_TOKEN_FILE is empty" in _error(
        monkeypatch, **base, CODEX_AUTH="capability-token", CODEX_TOKEN_FILE=str(empty)
    )


def test_signed_bearer_secret_must_be_32_bytes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A shared secret shorter than 32 bytes after trimming is refused, by name."""
    secret = tmp_path / "secret"
    secret.write_text("x" * 31 + "\n\n")
    message = _error(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_URL="ws://a:1",
        CODEX_AUTH="signed-bearer-token",
        CODEX_SHARED_SECRET_FILE=str(secret),
    )
    assert "CODEX_SHARED_SECRET_FILE must hold at least 32 bytes" in message
    assert "xxxx" not in message


def test_auth_without_a_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """WebSocket auth makes no sense for the stdio child: CODEX_URL is named."""
    message = _error(
        monkeypatch, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, CODEX_AUTH="none-such"
    )
    assert message.startswith("CODEX_AUTH:")
    message = _error(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_AUTH="capability-token",
    )
    assert "needs CODEX_URL" in message


def test_endpoints_carry_auth_and_tls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """codex_endpoints maps URLs, auth files and TLS options to codex_client endpoints."""
    secret = tmp_path / "secret"
    secret.write_text("s" * 40)
    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_URL="wss://a:1,wss://b:2",
        CODEX_AUTH="signed-bearer-token",
        CODEX_SHARED_SECRET_FILE=str(secret),
        CODEX_JWT_ISSUER="bot",
        CODEX_JWT_AUDIENCE="codex",
        CODEX_TLS_VERIFY="false",
    )
    endpoints = settings.codex_endpoints()
    assert [e.url for e in endpoints] == ["wss://a:1", "wss://b:2"]
    auth = endpoints[0].auth
    assert isinstance(auth, SignedBearerTokenAuth)
    assert (auth.secret_file, auth.issuer, auth.audience) == (secret, "bot", "codex")
    assert endpoints[0].tls is not None
    assert endpoints[0].tls.verify is False

    token = tmp_path / "token"
    token.write_text("tok\n")
    settings = _load(monkeypatch, CODEX_AUTH="capability-token", CODEX_TOKEN_FILE=str(token))
    assert isinstance(settings.codex_endpoints()[0].auth, CapabilityTokenAuth)


def test_stdio_endpoint_when_no_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CODEX_URL the one endpoint spawns CODEX_BIN app-server in CODEX_CWD."""
    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_BIN="/opt/codex",
        CODEX_CWD="/work",
    )
    (endpoint,) = settings.codex_endpoints()
    assert (endpoint.url, tuple(endpoint.command), endpoint.cwd) == (
        None,
        ("/opt/codex", "app-server"),
        "/work",
    )
    assert isinstance(endpoint.auth, NoAuth)


def test_channel_policies_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel's JSON override wins field by field over CODEX_SANDBOX/APPROVAL_POLICY."""
    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_SANDBOX="read-only",
        CODEX_APPROVAL_POLICY="never",
        CODEX_CHANNEL_POLICIES='{"C1": {"approval_policy": "untrusted"}}',
    )
    assert settings.channel_policy("C1").approval_policy == "untrusted"
    assert settings.channel_policy("C1").sandbox == "read-only"
    assert settings.channel_policy("C2").approval_policy == "never"
    message = _error(monkeypatch, CODEX_CHANNEL_POLICIES='{"C1": {"sandbox": "everything-goes"}}')
    assert message.startswith("CODEX_CHANNEL_POLICIES (C1.sandbox):")


def test_allowlists_combine_global_and_per_action(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every allowlist that is set must admit the user (directly or by group) and channel."""
    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        ALLOWED_CHANNELS="C1, C2",
        ALLOW_STEER_USERS="U1,S9",
        APPROVERS="U7,S8",
    )
    assert settings.allows("mention", user="U5", channel="C1")
    assert not settings.allows("mention", user="U5", channel="C3")
    assert settings.allows("steer", user="U1", channel="C2")
    assert not settings.allows("steer", user="U5", channel="C2")
    assert settings.allows("steer", user="U5", channel="C2", user_groups=["S9"])
    assert settings.may_approve("U2", started_by="U2", channel="C1")
    assert not settings.may_approve("U3", started_by="U2", channel="C1")
    assert settings.may_approve("U7", started_by="U2", channel="C1")
    assert settings.may_approve("U3", started_by="U2", channel="C1", user_groups={"S8"})
    assert settings.user_groups() == {"S8", "S9"}


def test_repr_never_shows_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens, the signing secret and a Redis password stay out of repr."""
    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_SIGNING_SECRET="signing-secret-value",
        REDIS_URL="redis://:redis-password@db:6379/0",
    )
    text = repr(settings) + str(settings)
    for secret in (BOT_TOKEN, APP_TOKEN, "signing-secret-value", "redis-password"):
        assert secret not in text
    assert settings.redis_url_redacted == "redis://:***@db:6379/0"


def test_the_bots_own_credentials_leave_the_environment() -> None:
    """Slack tokens and Redis credentials are removed; the OpenAI key stays for Codex."""
    from bot.config import forget_environment_secrets

    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "REDIS_URL": "redis://:pw@h/0",
        "OPENAI_API_KEY": "sk-1",
        "PATH": "/bin",
    }
    assert forget_environment_secrets(env) == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "REDIS_URL",
    ]
    assert env == {"OPENAI_API_KEY": "sk-1", "PATH": "/bin"}


def test_delivery_defaults_and_method_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replies stream natively where Slack allows (auto); windows can be set per method."""
    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_RATE_LIMITS='{"chat.appendStream": 200}',
    )
    assert settings.slack_delivery == "auto"
    assert settings.slack_thread_status is True
    assert settings.slack_first_post_seconds == 10.0
    assert settings.slack_rate_limits == {"chat.appendStream": 200}


def test_an_unknown_slack_method_window_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt method in SLACK_RATE_LIMITS is refused, listing the known ones."""
    error = _error(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_RATE_LIMITS='{"chat.apendStream": 200}',
    )
    assert "SLACK_RATE_LIMITS" in error
    assert "chat.apendStream" in error
    assert "chat.appendStream" in error


def test_an_unknown_delivery_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    error = _error(
        monkeypatch, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_DELIVERY="fast"
    )
    assert "SLACK_DELIVERY" in error


def test_a_channel_project_must_exist_for_the_local_app_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the stdio app-server, a channel's cwd that is not a directory stops the start,
    naming the channel; its model and effort override the global ones."""
    error = _error(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_CHANNEL_POLICIES=f'{{"C9": {{"cwd": "{tmp_path / "missing"}"}}}}',
    )
    assert "C9" in error
    assert "is not a directory" in error
    settings = _load(
        monkeypatch,
        CODEX_CHANNEL_POLICIES=(
            f'{{"C9": {{"cwd": "{tmp_path}", "model": "gpt-x", "effort": "high"}}}}'
        ),
        CODEX_MODEL="gpt-default",
    )
    policy = settings.channel_policy("C9")
    assert (policy.cwd, policy.model, policy.effort) == (str(tmp_path), "gpt-x", "high")
    assert settings.channel_policy("C1").model == "gpt-default"


def test_doctor_lists_each_channels_effective_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.doctor import describe_policy

    settings = _load(
        monkeypatch,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        CODEX_CHANNEL_POLICIES=f'{{"C9": {{"cwd": "{tmp_path}", "sandbox": "read-only"}}}}',
        CODEX_EFFORT="low",
    )
    line = describe_policy(settings, "C9")
    assert f"cwd={tmp_path}" in line
    assert "effort=low" in line
    assert "sandbox=read-only" in line
    assert "model=(server default)" in line

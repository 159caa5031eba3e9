"""``CODEX_HOME`` directories for an app-server that the playground (or a test) runs.

Codex reads its model provider, approval policy and features from ``$CODEX_HOME/config.toml``.
:func:`write_codex_home` points it at a model served on 127.0.0.1 (the playground's demo
model, the tests' scripted one), so nothing leaves loopback; :func:`write_openai_home` at
OpenAI's Responses API with ``OPENAI_API_KEY``, as ``scripts/run-bot`` does for a real bot.
Both switch off the two features that would otherwise reach GitHub at start-up or run the
user's login shell for every command.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = [
    "ASK_FEATURES",
    "LOCAL_MODEL_KEY_ENV",
    "write_codex_home",
    "write_openai_home",
]

ASK_FEATURES: Final[Mapping[str, bool]] = {"default_mode_request_user_input": True}
"""What makes the real server offer the model ``request_user_input`` outside Plan mode (in
the default collaboration mode it answers the call "unavailable in Default mode" instead)."""

LOCAL_MODEL_KEY_ENV: Final = "FAKE_API_KEY"
"""The variable whose value Codex sends to a local model as its API key: any value will do,
but Codex refuses to start a turn when the provider's variable is unset."""

_QUIET_FEATURES: Final = """\
[analytics]
enabled = false

# Both default to on: plugins syncs from GitHub at start-up, shell_snapshot runs login shells.
[features]
plugins = false
shell_snapshot = false
"""


def write_codex_home(
    home: Path,
    model_base_url: str,
    approval_policy: str = "never",
    *,
    features: Mapping[str, bool] | None = None,
    extra_config: str = "",
) -> None:
    """A ``CODEX_HOME`` that talks only to the model at ``model_base_url`` and never leaves
    loopback; ``features`` are added to its ``[features]`` table, ``extra_config`` (TOML
    tables, such as ``[mcp_servers.<name>]``) is appended."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"""model = "fake-model"
model_provider = "fake"
approval_policy = "{approval_policy}"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.fake]
name = "fake"
base_url = "{model_base_url}"
wire_api = "responses"
env_key = "{LOCAL_MODEL_KEY_ENV}"
request_max_retries = 0
stream_max_retries = 0

{_QUIET_FEATURES}{_flags(features)}{extra_config}"""
    )


def write_openai_home(home: Path, *, features: Mapping[str, bool] | None = None) -> None:
    """A ``CODEX_HOME`` for real Codex: OpenAI's Responses API with the key in
    ``OPENAI_API_KEY`` (Codex 0.169 and 0.171's built-in provider does not send it). The
    approval policy is the bot's to set, on each thread it starts."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"""model_provider = "openai-api-key"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.openai-api-key]
name = "OpenAI (API key)"
base_url = "https://api.openai.com/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"

{_QUIET_FEATURES}{_flags(features)}"""
    )


def _flags(features: Mapping[str, bool] | None) -> str:
    return "".join(f"{name} = {str(on).lower()}\n" for name, on in (features or {}).items())

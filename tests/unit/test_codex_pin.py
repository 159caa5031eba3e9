"""The pinned Codex release is one number: the bot's CODEX_VERSION default (what a start checks
``codex --version`` against) is the release scripts/bootstrap installs and the README names."""

from __future__ import annotations

import re

from bot.config import PINNED_CODEX_VERSION, Settings
from tests.conftest import PROJECT_ROOT


def test_bootstrap_installs_the_release_the_bot_expects() -> None:
    script = (PROJECT_ROOT / "scripts" / "bootstrap").read_text()
    match = re.search(r'^CODEX_VERSION="\$\{CODEX_VERSION:-([0-9.]+)\}"$', script, re.MULTILINE)
    assert match is not None, "scripts/bootstrap sets no default CODEX_VERSION"
    assert match.group(1) == PINNED_CODEX_VERSION


def test_the_readme_names_the_pinned_release() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert f"@openai/codex@{PINNED_CODEX_VERSION}" in readme


def test_an_empty_codex_version_means_the_pin_as_in_bootstrap() -> None:
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1", codex_version=""
    )
    assert settings.codex_version == PINNED_CODEX_VERSION

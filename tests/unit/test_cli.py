"""The ``codex-slack`` command: bad configuration is refused with the setting's name."""

from __future__ import annotations

import pytest

from bot.__main__ import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "CODEX_URL",
        "CODEX_AUTH",
        "CODEX_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))  # no stray .env file is read


def test_a_missing_bot_token_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    """Without SLACK_BOT_TOKEN the command exits 2 and says which variable is missing."""
    assert main(["serve"]) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


def test_a_wrong_setting_is_named_without_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CODEX_URL that is not ws:// is refused by name, and no token appears in the message."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value-123")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-secret-value")
    monkeypatch.setenv("CODEX_URL", "http://127.0.0.1:1")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "CODEX_URL" in err
    assert "secret-value" not in err


def test_http_mode_needs_the_signing_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve --http`` without SLACK_SIGNING_SECRET exits 2 naming it."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-3")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-2-3")
    assert main(["serve", "--http"]) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err

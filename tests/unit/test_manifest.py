"""The Slack app manifest declares everything the bot listens for, and Socket Mode."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.doctor import REQUIRED_SCOPES
from tests.conftest import PROJECT_ROOT

MANIFEST = PROJECT_ROOT / "manifest.yaml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """manifest.yaml, parsed."""
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def test_slash_commands_have_usage_hints(manifest: dict[str, Any]) -> None:
    """/steer and /recap are declared, each with a description and a usage hint."""
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {"/steer", "/recap"}
    for command in commands.values():
        assert command["description"]
        assert command["usage_hint"]
        assert "url" not in command  # Socket Mode needs none; HTTP mode adds it (see comments)


def test_message_shortcuts_use_the_bot_callback_ids(manifest: dict[str, Any]) -> None:
    """The "Steer Codex" and "Recap thread" message shortcuts carry the bot's callback ids."""
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert set(shortcuts) == {"steer_codex", "recap_thread"}
    assert shortcuts["steer_codex"]["name"] == "Steer Codex"
    assert shortcuts["recap_thread"]["name"] == "Recap thread"
    for shortcut in shortcuts.values():
        assert shortcut["type"] == "message"
        assert 0 < len(shortcut["description"]) <= 150  # Slack's limit


def test_events_and_scopes_match_what_the_bot_uses(manifest: dict[str, Any]) -> None:
    """The bot subscribes to mentions and channel messages with exactly the scopes it needs."""
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == ["app_mention", "message.channels", "message.groups"]
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == sorted(REQUIRED_SCOPES)
    assert "files:read" in scopes
    assert "files:write" in scopes


def test_socket_mode_and_interactivity_are_on(manifest: dict[str, Any]) -> None:
    """Socket Mode is enabled, interactivity too, and no request URL is set by default."""
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert "request_url" not in settings["interactivity"]
    assert "request_url" not in settings["event_subscriptions"]
    assert manifest["features"]["bot_user"]["display_name"]
    info = manifest["display_information"]
    assert info["name"]
    assert len(info["description"]) <= 140  # Slack's limits
    assert 175 <= len(info["long_description"]) <= 4000


def test_http_mode_instructions_point_at_slack_events() -> None:
    """The commented HTTP-mode request URLs all point at /slack/events."""
    text = MANIFEST.read_text()
    urls = [line.split(":", 1)[1].strip() for line in text.splitlines() if "# request_url:" in line]
    urls += [line.split(":", 1)[1].strip() for line in text.splitlines() if "# url:" in line]
    assert len(urls) == 4  # events, interactivity, /steer, /recap
    assert all(url == "https://<your host>/slack/events" for url in urls)

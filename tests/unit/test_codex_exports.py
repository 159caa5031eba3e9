"""The public surface of codex_client, and its independence from the bot."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import codex_client

EXPECTED = {
    # pool and endpoints
    "CodexPool",
    "Endpoint",
    "NoAuth",
    "CapabilityTokenAuth",
    "SignedBearerTokenAuth",
    "TlsOptions",
    "Backoff",
    "Transport",  # what a transport_factory opens (tests' in-memory doubles)
    "TransportFactory",
    # handles and results
    "ThreadHandle",
    "TurnHandle",
    "TurnLost",
    "TurnPager",
    "TurnsPage",
    "TurnResult",
    # server requests, typed by method in ApprovalRequest.details
    "ApprovalRequest",
    "ApprovalHandler",
    "CommandExecutionApproval",
    "FileChangeApproval",
    "PermissionsApproval",
    "GenericRequest",
    # events and models
    "TurnEvent",
    "TurnStarted",
    "ItemStarted",
    "ItemCompleted",
    "AgentMessageDelta",
    "TurnCompleted",
    "TurnErrorEvent",
    "OtherNotification",
    "Turn",
    "TurnError",
    # thread items: ThreadItem is the union, discriminated by type, of the classes below
    "ThreadItem",
    "UserMessageItem",
    "AgentMessageItem",
    "ReasoningItem",
    "PlanItem",
    "CommandExecutionItem",
    "CommandAction",
    "FileChangeItem",
    "FileUpdateChange",
    "PatchChangeKind",
    "McpToolCallItem",
    "WebSearchItem",
    "UnknownItem",
    # a user message's content: UserInput is the union of the classes below
    "UserInput",
    "TextUserInput",
    "ImageUserInput",
    "LocalImageUserInput",
    "UnknownUserInput",
    # errors
    "CodexError",
    "TransportError",
    "ConnectionLost",
    "AuthError",
    "ProtocolError",
    "RpcError",
    "ServerOverloaded",
    "NoActiveTurn",
    "TurnMismatch",
    "ThreadNotFound",
    "RequestTimeout",
}


def test_all_is_exactly_the_intended_public_surface() -> None:
    """__all__ lists exactly the intended names, each importable from the package."""
    assert set(codex_client.__all__) == EXPECTED
    assert len(codex_client.__all__) == len(EXPECTED)
    for name in codex_client.__all__:
        assert getattr(codex_client, name) is not None


def test_importing_the_client_loads_nothing_from_the_bot() -> None:
    """A fresh interpreter importing codex_client has no bot module loaded."""
    code = "import codex_client, json, sys; print(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    modules = json.loads(output)
    assert "codex_client._pool" in modules
    assert not [m for m in modules if m == "bot" or m.startswith("bot.")]
    assert not [m for m in modules if m.startswith(("slack_bolt", "slack_sdk", "redis"))]


def test_every_private_module_is_banned_outside_the_package() -> None:
    """ruff's banned-api lists each private module, so bot/ and bench/ cannot import one."""
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    banned = set(config["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"])
    package = Path(codex_client.__file__).parent
    private = {f"codex_client.{path.stem}" for path in package.glob("_*.py")} - {
        "codex_client.__init__"
    }
    assert private
    assert private - banned == set()
    assert "codex_client.testing" in banned
    inside = tomllib.loads((package / "ruff.toml").read_text())
    assert set(inside["lint"]["flake8-tidy-imports"]["banned-api"]) == {"bot"}

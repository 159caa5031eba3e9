"""The playground's pure parts: its workspace directory, what a person's typing becomes, the
demo model's reading of Codex's requests, and the command line's refusals."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.__main__ import main
from playground.directory import COMMANDS, SHORTCUTS, encode
from playground.model.demo import (
    _command_output,
    _picked,
    _steered,
    _turn_number,
    answer_pieces,
    tool_answer,
)
from tests.conftest import PROJECT_ROOT

BOT = "U0BOT0001"


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


CALL = {"type": "function_call", "name": "exec_command", "call_id": "c1", "arguments": "{}"}
OUTPUT = {"type": "function_call_output", "call_id": "c1", "output": "Process exited with code 0"}
CONTEXT = user("<environment_context>cwd</environment_context>")


def test_the_page_offers_the_commands_and_shortcuts_the_manifest_declares() -> None:
    manifest = yaml.safe_load((PROJECT_ROOT / "manifest.yaml").read_text())["features"]
    declared = {
        (c["command"], c["usage_hint"], c["description"]) for c in manifest["slash_commands"]
    }
    assert {(c.command, c.usage_hint, c.description) for c in COMMANDS} == declared
    assert {(s.callback_id, s.name) for s in SHORTCUTS} == {
        (s["callback_id"], s["name"]) for s in manifest["shortcuts"]
    }


@pytest.mark.parametrize(
    ("typed", "delivered"),
    [
        ("@codex why?", f"<@{BOT}> why?"),
        ("ask @ada and @grace.", "ask <@U0001> and <@U0002>."),
        ("see #general, @here", "see <#C0001|general>, <!here>"),
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
        ("@nobody mail@codex.dev #nowhere", "@nobody mail@codex.dev #nowhere"),
    ],
)
def test_typed_text_is_delivered_as_slack_encodes_it(typed: str, delivered: str) -> None:
    assert encode(typed, bot_user_id=BOT) == delivered


def test_an_answer_streams_in_pieces_that_add_up_to_it() -> None:
    text = tool_answer("what is here?", "ls -1", "Process exited with code 0\nOutput:\nREADME.md\n")
    pieces = answer_pieces(text)
    assert len(pieces) > 10
    assert "".join(pieces) == text
    assert "```text\nREADME.md\n```" in text


def test_a_declined_command_is_answered_without_its_output() -> None:
    # What Codex 0.171 sends the model when the user declined the command.
    declined = 'exec_command failed: CreateProcess { message: "Rejected(\\"rejected by user\\")" }'
    assert _command_output(declined) is None
    assert "the answer was **no**" in tool_answer("what is here?", "ls -1", declined)


def test_guidance_after_a_tool_call_is_a_steer_and_after_an_answer_a_new_turn() -> None:
    first = [CONTEXT, user("what is here?")]
    steered = [CONTEXT, user("what is here?"), CALL, OUTPUT, user("focus on tests")]
    later = [CONTEXT, user("what is here?"), CALL, OUTPUT, assistant("done"), user("and then?")]
    assert not _steered(first)
    assert _steered(steered)
    assert not _steered(later)
    assert _turn_number(first) == 1
    assert _turn_number(later) == 2


def test_the_picked_option_is_read_from_codexs_answers() -> None:
    assert _picked('{"answers": {"file": {"answers": ["app.py"]}}}') == "app.py"
    assert _picked('{"answers": {}}') is None
    assert _picked("not json") is None


def test_the_playground_refuses_real_codex_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["playground", "--model", "openai", "--port", "0"]) == 2
    assert (
        capsys.readouterr().err == "codex-slack playground: --model openai needs OPENAI_API_KEY\n"
    )

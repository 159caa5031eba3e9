"""Pure parts of the commands and approvals: argument parsing, decisions, refusals, access."""

from __future__ import annotations

from typing import Any

import pytest

from bot import render
from bot.access import Access
from bot.approvals import UnsupportedRequest, offered_decisions, refusal
from bot.command_text import (
    DEFAULT_RECAP_TURNS,
    InThread,
    Permalink,
    UsageError,
    how_to,
    parse_in_thread,
    parse_permalink,
    parse_recap,
    parse_steer,
    workspace_host,
)
from bot.config import Settings
from bot.mentions import Mention, author_of, client_message_id
from codex_client import ApprovalRequest

LINK = "https://acme.slack.com/archives/C0123ABC/p1732540000000100"
THREAD_IDS = ("C0123ABC", "1732540000.000100")
THREAD = Permalink(*THREAD_IDS, "acme.slack.com")


# -- permalinks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        (LINK, THREAD),
        (f"<{LINK}>", THREAD),
        (f"<{LINK}|a thread>", THREAD),
        (
            f"{LINK}?thread_ts=1732539999.000200&cid=C0123ABC",
            Permalink("C0123ABC", "1732539999.000200", "acme.slack.com"),
        ),
        (f"{LINK}?cid=C0123ABC", THREAD),
        (
            "https://acme.enterprise.slack.com/archives/G9/p1234567",
            Permalink("G9", "1.234567", "acme.enterprise.slack.com"),
        ),
        (LINK.replace("acme", "Other-Team"), Permalink(*THREAD_IDS, "other-team.slack.com")),
    ],
)
def test_a_permalink_names_its_thread(word: str, expected: Permalink) -> None:
    """A message permalink gives its channel and thread (``thread_ts`` when it is a reply), and
    its workspace's host, lower case."""
    assert parse_permalink(word) == expected


@pytest.mark.parametrize(
    "word",
    [
        "https://example.com/archives/C1/p1732540000000100",
        "http://acme.slack.com/archives/C1/p1732540000000100",
        "https://acme.slack.com/archives/C1",
        "https://acme.slack.com/archives/C1/p12",
        "https://acme.slack.com.evil.example/archives/C1/p1732540000000100",
        "C1/p1732540000000100",
        "",
    ],
)
def test_anything_else_is_not_a_permalink(word: str) -> None:
    """Other URLs, other hosts, truncated links and plain words are not permalinks."""
    assert parse_permalink(word) is None


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://acme.slack.com/", "acme.slack.com"),
        ("https://Acme.Slack.com", "acme.slack.com"),
        ("https://acme.enterprise.slack.com/", "acme.enterprise.slack.com"),
        ("", None),
        (None, None),
        ("not a url", None),
    ],
)
def test_the_workspace_host_comes_from_auth_test_url(url: object, host: str | None) -> None:
    """auth.test's ``url`` gives the host a permalink must name to be this workspace's."""
    assert workspace_host(url) == host


# -- /steer and /recap ----------------------------------------------------------------------


def test_steer_takes_an_optional_permalink_then_the_guidance() -> None:
    """/steer's first word is a target only when it is a permalink; the rest is guidance."""
    with_link = parse_steer(f"{LINK}  use the v2 API\nplease")
    assert with_link.target == THREAD
    assert with_link.guidance == "use the v2 API\nplease"
    plain = parse_steer("  see https://example.com first ")
    assert plain.target is None
    assert plain.guidance == "see https://example.com first"


@pytest.mark.parametrize("text", ["", "   ", LINK])
def test_steer_without_guidance_is_a_usage_error(text: str) -> None:
    """/steer with nothing to say explains its usage."""
    with pytest.raises(UsageError, match="Usage"):
        parse_steer(text)


def test_recap_takes_an_optional_permalink_and_count() -> None:
    """/recap [permalink] [N]: both optional, N defaults to 5."""
    assert parse_recap("").limit == DEFAULT_RECAP_TURNS
    assert parse_recap("12").limit == 12
    both = parse_recap(f"{LINK} 3")
    assert (both.target, both.limit) == (THREAD, 3)
    assert parse_recap(LINK).limit == DEFAULT_RECAP_TURNS


@pytest.mark.parametrize("text", ["0", "21", "many", "3 4", f"{LINK} x"])
def test_a_bad_recap_count_is_a_usage_error(text: str) -> None:
    """N must be a whole number from 1 to 20, and nothing may follow it."""
    with pytest.raises(UsageError):
        parse_recap(text)


# -- in-thread commands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steer use bananas", InThread("steer", guidance="use bananas")),
        ("Steer: use\nbananas", InThread("steer", guidance="use\nbananas")),
        ("stop", InThread("stop")),
        ("STOP!", InThread("stop")),
        ("recap", InThread("recap")),
        ("recap 7", InThread("recap", limit=7)),
    ],
)
def test_in_thread_commands_are_recognised(text: str, expected: InThread) -> None:
    """`steer <guidance>`, `stop` and `recap [N]` after the bot's mention are commands."""
    assert parse_in_thread(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hello there",
        "stop using globals in utils.py",
        "recap the design doc for me",
        "steering wheels are round",
        "please stop",
    ],
)
def test_prompts_that_merely_start_alike_stay_prompts(text: str) -> None:
    """A prompt is never swallowed as a command: stop stands alone, recap takes one number."""
    assert parse_in_thread(text) is None


def test_the_how_to_names_what_to_type() -> None:
    """An empty mention's answer names the bot and each thing one can type after it."""
    text = how_to("U0BOT")
    assert "<@U0BOT>" in text
    for word in ("question", "`steer <guidance>`", "`stop`", "`recap [N]`"):
        assert word in text


@pytest.mark.parametrize("text", ["steer", "steer   ", "recap lots"])
def test_an_in_thread_command_with_bad_arguments_says_how(text: str) -> None:
    """`steer` without guidance, or `recap` with a bad count, answers with its usage."""
    with pytest.raises(UsageError):
        parse_in_thread(text)


# -- who asked ------------------------------------------------------------------------------


def test_the_turn_author_round_trips_through_the_client_message_id() -> None:
    """The Slack user rides on Codex's clientUserMessageId and is read back for recaps."""
    mention = Mention("T1", "C1", "1.000001", "2.000002", "U123", "hi")
    assert author_of(client_message_id(mention)) == "U123"
    assert author_of(None) is None
    assert author_of("tui-1234") is None
    assert author_of("slack:") is None


# -- approvals ------------------------------------------------------------------------------


def _request(method: str, **params: Any) -> ApprovalRequest:
    return ApprovalRequest(
        method=method,
        request_id=0,
        thread_id="th",
        turn_id="tu",
        params={"threadId": "th", "turnId": "tu", "itemId": "i", **params},
        endpoint_key="ws://x",
    )


def test_the_offered_decisions_follow_the_server_and_always_include_decline() -> None:
    """Buttons follow availableDecisions; decline is added (before cancel) when missing."""
    amendment = {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["touch", "x"]}}
    request = _request(
        "item/commandExecution/requestApproval",
        availableDecisions=["accept", amendment, "cancel"],
    )
    assert offered_decisions(request) == ["accept", amendment, "decline", "cancel"]
    files = _request("item/fileChange/requestApproval")
    assert offered_decisions(files) == ["accept", "acceptForSession", "decline", "cancel"]


def test_decisions_get_readable_labels_and_outcomes() -> None:
    """Every decision shape has a button label; the outcome line says who chose what."""
    amendment = {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["touch", "x"]}}
    network = {
        "applyNetworkPolicyAmendment": {
            "network_policy_amendment": {"host": "pypi.org", "action": "allow"}
        }
    }
    assert render.decision_label("accept") == "Approve"
    assert render.decision_label(amendment) == "Always allow `touch x`"
    assert render.decision_label(network) == "Always allow pypi.org"
    assert render.approval_outcome("accept", user="U1") == "✅ <@U1> chose *Approve*."
    assert render.approval_outcome("decline", user="U1") == "🚫 <@U1> declined."
    assert "expired" in render.approval_outcome("expired", user=None, why="it dropped")


def test_an_approval_prompt_shows_the_command_then_buttons_or_the_outcome() -> None:
    """The prompt shows the unwrapped command and one button per decision; answered, none."""
    prompt = render.ApprovalPrompt(
        kind="command", started_by="U1", command="/bin/bash -lc 'rm -rf ```x'", cwd="/w"
    )
    blocks = render.approval_blocks(prompt, approval_id="ap", decisions=["accept", "decline"])
    assert "rm -rf" in blocks[0]["text"]["text"]
    assert "bash -lc" not in blocks[0]["text"]["text"]
    assert blocks[0]["text"]["text"].count("```") == 2  # the command's own fence is defused
    actions = next(b for b in blocks if b["type"] == "actions")
    assert [e["value"] for e in actions["elements"]] == ["ap:0", "ap:1"]
    assert len({e["action_id"] for e in actions["elements"]}) == 2
    answered = render.approval_blocks(
        prompt, approval_id="ap", decisions=["accept"], outcome="✅ done"
    )
    assert not [b for b in answered if b["type"] == "actions"]
    assert "✅ done" in str(answered)


def test_a_file_change_prompt_lists_the_files() -> None:
    """A file-change prompt lists each change's kind and path."""
    prompt = render.ApprovalPrompt(
        kind="fileChange", started_by="U1", changes=(("add", "/w/a.py"), ("delete", "/w/b.py"))
    )
    text = render.approval_blocks(prompt, approval_id="ap", decisions=["accept"])[0]["text"]
    assert "add `/w/a.py`" in text["text"]
    assert "delete `/w/b.py`" in text["text"]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("item/permissions/requestApproval", {"permissions": {}, "scope": "turn"}),
        ("item/tool/requestUserInput", {"answers": {}}),
        ("mcpServer/elicitation/request", {"action": "decline"}),
        ("execCommandApproval", {"decision": "denied"}),
        ("applyPatchApproval", {"decision": "denied"}),
    ],
)
def test_other_server_requests_get_a_refusal_of_their_own_shape(
    method: str, expected: dict[str, Any]
) -> None:
    """Requests Slack cannot answer are refused in the shape each method expects."""
    assert refusal(method) == expected


def test_a_dynamic_tool_call_fails_and_unknown_requests_raise() -> None:
    """A dynamic tool call reports failure; a method with no refusal shape raises."""
    answer = refusal("item/tool/call")
    assert answer["success"] is False
    assert answer["contentItems"][0]["type"] == "inputText"
    with pytest.raises(UnsupportedRequest):
        refusal("account/chatgptAuthTokens/refresh")


# -- access ---------------------------------------------------------------------------------


class _Groups:
    """The one Slack method Access calls, answering from a dict."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = groups
        self.calls = 0

    async def usergroups_users_list(self, *, usergroup: str) -> dict[str, Any]:
        self.calls += 1
        return {"ok": True, "users": self.groups.get(usergroup, [])}


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, slack_bot_token="xoxb-t", slack_signing_secret="s", **values)


async def test_access_says_whether_the_channel_or_the_user_is_refused() -> None:
    """The refusal names the reason: a channel not allowed, or a user not on the list."""
    access = Access(
        _settings(allow_steer_channels=["C1"], allow_steer_users=["U1"]),
        _Groups({}),  # type: ignore[arg-type]  # a fake with the one method used
    )
    assert await access.why_not("steer", user="U1", channel="C1") is None
    assert "channel" in str(await access.why_not("steer", user="U1", channel="C2"))
    assert "not on the list" in str(await access.why_not("steer", user="U2", channel="C1"))
    assert await access.why_not("recap", user="U2", channel="C2") is None


async def test_user_groups_count_and_are_cached() -> None:
    """A member of an allowed user group is allowed; group members are fetched once."""
    slack = _Groups({"S1": ["U7"]})
    access = Access(_settings(approvers=["S1"]), slack)  # type: ignore[arg-type]
    assert await access.may_approve("U7", started_by="U1", channel="C1") is None
    assert await access.may_approve("U8", started_by="U1", channel="C1") is not None
    assert await access.may_approve("U1", started_by="U1", channel="C1") is None
    assert slack.calls == 1

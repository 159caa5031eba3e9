"""bot.render and bot.mrkdwn: what Slack shows, and lossless chunking."""

from __future__ import annotations

import random

import pytest

from bot import render
from bot.mrkdwn import CONTINUED, join_displayed, scan_fence, split_markdown, to_mrkdwn
from codex_client import CommandExecutionItem, UnknownItem
from codex_client._models import parse_item, parse_turn


def _random_markdown(rng: random.Random, size: int) -> str:
    """Paragraphs, long lines, lists and code fences (some left open) in random order."""
    words = ["alpha", "beta", "`code`", "**bold**", "x" * 300, "&", "<tag>", "é", "🙂", "\t"]
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        kind = rng.random()
        if kind < 0.4:
            parts.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) + "\n\n")
        elif kind < 0.6:
            parts.append("".join(f"- item {i}\n" for i in range(rng.randint(1, 30))))
        elif kind < 0.9:
            fence = rng.choice(["```", "~~~", "````"])
            body = "".join(f"{'y' * rng.randint(0, 120)} {i}\n" for i in range(rng.randint(1, 80)))
            parts.append(f"{fence}{rng.choice(['', 'python'])}\n{body}{fence}\n")
        else:
            parts.append("```\n" + "z" * rng.randint(100, 3000) + "\n```\n")
    if rng.random() < 0.3:
        parts.append("```\nunclosed " * 3)
    return "".join(parts)


@pytest.mark.parametrize("seed", range(40))
def test_chunks_concatenate_to_the_original_and_fit(seed: int) -> None:
    """Pieces join to the exact text, each display fits, and displays recover the text."""
    rng = random.Random(seed)
    text = _random_markdown(rng, rng.randint(500, 20_000))
    limit = rng.choice([200, 1000, 3000])
    chunks = split_markdown(text, limit)
    assert "".join(chunks) == text
    assert all(len(chunk.display) <= limit for chunk in chunks)
    assert all(chunk for chunk in chunks)
    assert join_displayed([chunk.display for chunk in chunks]) == text


@pytest.mark.parametrize("seed", range(10))
def test_every_piece_but_the_last_is_stable_as_text_grows(seed: int) -> None:
    """Appending text never changes a piece that was already followed by another."""
    rng = random.Random(1000 + seed)
    text = _random_markdown(rng, 15_000)
    previous = split_markdown(text[:4000], 1500)
    for end in range(4000, len(text), 997):
        current = split_markdown(text[:end], 1500)
        assert current[: len(previous) - 1] == previous[:-1]
        assert [c.display for c in current[: len(previous) - 1]] == [
            c.display for c in previous[:-1]
        ]
        previous = current


def test_split_prefers_paragraphs_and_leaves_short_texts_whole() -> None:
    """A text under the limit is one piece; a longer one is cut after a blank line."""
    assert split_markdown("short", 100) == ["short"]
    text = "a" * 60 + "\n\n" + "b" * 30 + "\n" + "c" * 30
    assert split_markdown(text, 100) == ["a" * 60 + "\n\n", "b" * 30 + "\n" + "c" * 30]


def test_split_inside_a_fence_closes_and_reopens_it() -> None:
    """A cut inside a code block shows a closed block, and the next piece reopens it."""
    text = "```python\n" + "".join(f"print({i})\n" for i in range(40)) + "```\n"
    first, second, *_ = split_markdown(text, 120)
    assert first.display.startswith("```python\n")
    assert first.display.endswith("\n```")
    assert second.display.startswith("```python\nprint(")
    assert scan_fence(first.display) is None


def test_split_before_a_code_block_rather_than_through_it() -> None:
    """When a code block would be cut, the piece ends before the block if that is not tiny."""
    text = "intro " * 6 + "\n\n```\n" + "code line\n" * 20 + "```\n"
    first = split_markdown(text, 150)[0]
    assert first == "intro " * 6 + "\n\n"


def test_a_code_line_longer_than_a_message_is_marked_where_cut() -> None:
    """A code line cut mid-way shows the continuation mark, and still joins back exactly."""
    text = "```\n" + "x" * 250 + "\n```"
    chunks = split_markdown(text, 100)
    assert chunks[0].display.endswith(f"{CONTINUED}\n```")
    assert join_displayed([c.display for c in chunks]) == text


def test_to_mrkdwn_converts_commonmark() -> None:
    """Bold, italics, links, headings, bullets and strikes become mrkdwn; code stays."""
    source = (
        "# Title\n**bold** and *it* and ~~gone~~\n- item\n"
        "see [docs](https://x.dev/a?b=1&c=2) or <https://y.dev>\n"
        "`a**b**` & <b>\n> quoted **x**\n```py\nif a < b: **x**\n```"
    )
    assert to_mrkdwn(source).split("\n") == [
        "*Title*",
        "*bold* and _it_ and ~gone~",
        "• item",
        "see <https://x.dev/a?b=1&c=2|docs> or <https://y.dev>",
        "`a**b**` &amp; &lt;b&gt;",
        "> quoted *x*",
        "```",
        "if a &lt; b: **x**",
        "```",
    ]


def test_reply_blocks_use_a_markdown_block_and_an_optional_stop_button() -> None:
    """A reply is one markdown block, plus an actions block carrying the Stop value."""
    assert render.reply_blocks("hi") == [{"type": "markdown", "text": "hi"}]
    blocks = render.reply_blocks("hi", stop_value="T1:C1:1.2")
    button = blocks[1]["elements"][0]
    assert (button["action_id"], button["value"]) == (render.ACTION_STOP, "T1:C1:1.2")
    chunk = split_markdown("```\n" + "line\n" * 50, 100)[0]
    assert render.reply_blocks(chunk)[0]["text"] == chunk.display


def test_fallback_text_is_mrkdwn_within_slacks_limit() -> None:
    """The text fallback is converted and never over 40,000 characters."""
    assert render.fallback_text("**hi** & bye") == "*hi* &amp; bye"
    assert len(render.fallback_text("&" * 12_000)) <= 40_000
    assert render.fallback_text("") == render.to_mrkdwn(render.THINKING)


def test_status_lines_name_who_stopped_and_why_it_failed() -> None:
    """Stopped and failed turns end with a status line; completed ones have none."""
    assert render.status_line("completed") is None
    assert render.interrupted("partial", stopped_by="U123").endswith("Stopped by <@U123>._")
    assert render.interrupted("", stopped_by=None) == "_⏹️ Stopped._"
    assert render.failed("so far", "model overloaded") == "so far\n\n_❌ Failed: model overloaded_"
    assert render.connection_lost(render.THINKING).startswith("_⚠️ Lost the connection")


def test_codex_unreachable_names_only_the_error_kind() -> None:
    """The failure reply shows the exception's class, never its message."""
    text = render.codex_unreachable(OSError("ws://secret-host:4500 token=abc"))
    assert "OSError" in text
    assert "secret" not in text


@pytest.mark.parametrize(
    ("item", "line"),
    [
        (
            {"type": "commandExecution", "command": "/bin/bash -lc 'pytest -q'"},
            "running `pytest -q`",
        ),
        (
            {
                "type": "commandExecution",
                "command": "x",
                "commandActions": [
                    {"type": "read", "command": "cat a.py", "name": "a.py", "path": "/w/a.py"}
                ],
            },
            "reading `a.py`",
        ),
        (
            {
                "type": "fileChange",
                "changes": [{"path": "a", "kind": {"type": "add"}, "diff": ""}] * 3,
            },
            "editing 3 files",
        ),
        ({"type": "fileChange", "changes": [{"path": "bot/app.py"}]}, "editing `app.py`"),
        ({"type": "mcpToolCall", "server": "gh", "tool": "search"}, "calling `gh.search`"),
        ({"type": "webSearch", "query": "slack limits"}, "searching the web for “slack limits”"),
        ({"type": "agentMessage", "text": "hi"}, None),
    ],
)
def test_activity_lines_are_compact(item: dict[str, object], line: str | None) -> None:
    """Tool items (as the client types them from the wire) become one short line; others none."""
    parsed = parse_item(item)
    assert parsed is not None
    assert render.activity(parsed) == line


def test_activity_reads_typed_items_built_in_python() -> None:
    """Items built from their classes read the same; long commands are cut short."""
    assert render.activity(CommandExecutionItem(command="make test")) == "running `make test`"
    assert len(render.activity(CommandExecutionItem(command="y" * 500)) or "") < 80
    assert render.activity(UnknownItem(type="imageView")) is None


def test_clean_mention_removes_the_bot_and_makes_ids_readable() -> None:
    """The bot's mention goes; users, channels, links and entities read naturally."""
    text = (
        "<@UBOT> ask <@U1> in <#C9|general> about <https://x.dev|the docs>, "
        "<https://y.dev>, <mailto:a@b.c|a@b.c> &amp; a &lt;tag&gt; <!here> "
        "<!subteam^S1|@devs> <@UBOT|codex>"
    )
    assert render.clean_mention(text, "UBOT", names={"U1": "ana"}) == (
        "ask @ana in #general about the docs (https://x.dev), https://y.dev, a@b.c & a <tag> "
        "@here @devs"
    )
    assert render.clean_mention("fix\n<@UBOT>\n```\ncode\n```", "UBOT") == "fix\n \n```\ncode\n```"


def test_recap_blocks_show_each_turn_and_the_paging_buttons() -> None:
    """A recap page lists who asked what, the gist, status and time, then Older and Share."""
    turns = [
        render.RecapTurn(
            prompt="make **tests** pass",
            answer="Done: `pytest` is green <3",
            status="completed",
            started_at=1_732_540_000,
            asked_by="U1",
        ),
        render.RecapTurn(prompt="x" * 5000, answer="", status="interrupted"),
    ]
    blocks = render.recap_blocks(turns, title="Recap", older_value="abc", share_value="s1")
    assert blocks[0]["type"] == "header"
    assert (
        blocks[1]["text"]["text"] == "*<@U1> asked:* make tests pass\n>Done: pytest is green &lt;3"
    )
    assert "<!date^1732540000^" in blocks[2]["elements"][0]["text"]
    assert len(blocks[3]["text"]["text"]) <= 3000
    actions = blocks[-1]["elements"]
    assert [(a["action_id"], a["value"]) for a in actions] == [
        (render.ACTION_RECAP_OLDER, "abc"),
        (render.ACTION_RECAP_SHARE, "s1"),
    ]
    assert render.recap_blocks([], older_value=None)[-1]["type"] == "section"


def test_a_shared_recap_and_its_first_turn_say_so() -> None:
    """``shared_by`` adds who shared it under the header; ``at_first_turn`` a last line."""
    turn = render.RecapTurn(prompt="hi", answer="hello", status="completed")
    blocks = render.recap_blocks(
        [turn], title="Recap", share_value="s1", at_first_turn=True, shared_by="U7"
    )
    assert blocks[1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Shared by <@U7>"}],
    }
    assert blocks[-2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "_That is the thread's first turn._"}],
    }
    assert blocks[-1]["type"] == "actions"


def test_recap_turn_reads_a_summary_turn() -> None:
    """The prompt is the first user message, the answer the last agent message."""
    turn = {
        "id": "t1",
        "status": "completed",
        "startedAt": 1_732_540_000,
        "items": [
            {"type": "userMessage", "content": [{"type": "text", "text": "hello"}]},
            {"type": "agentMessage", "text": "first"},
            {"type": "agentMessage", "text": "echo: hello"},
        ],
    }
    recap = render.recap_turn(parse_turn(turn), asked_by="U1")
    assert recap == render.RecapTurn("hello", "echo: hello", "completed", 1_732_540_000.0, "U1")

"""End to end: files attached in Slack reach Codex; what can't is said in the thread.

Real Redis, the real app-server with the scripted model (whose requests show what Codex
sent the model), the Slack fake serving the files to the bot token (``files:read``).
"""

from __future__ import annotations

import asyncio
import base64
import zlib
from pathlib import Path
from typing import Any

from playground.model.scripted import ModelRequest, ModelServer
from playground.slack.api import SlackFake
from tests.integration.bot_harness import CHANNEL, bot_replies, final_reply
from tests.integration.conftest import StartBot


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def images_of(request: ModelRequest) -> list[str]:
    """The image URLs of the request's last user message (Codex sends data: URLs)."""
    last = [i for i in request.input if i.get("type") == "message" and i.get("role") == "user"]
    parts: list[dict[str, Any]] = last[-1].get("content", []) if last else []
    return [str(p.get("image_url")) for p in parts if p.get("type") == "input_image"]


async def ask(model: ModelServer, ending: str) -> ModelRequest:
    return await model.wait_for_request(lambda r: ending in r.last_user_text)


def notices(slack: SlackFake, thread_ts: str) -> list[str]:
    return [str(m.get("text")) for m in bot_replies(slack, thread_ts) if not m.get("blocks")]


async def test_an_attached_image_reaches_codex_as_an_image(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer, tmp_path: Path
) -> None:
    harness = await start_bot(files_dir=tmp_path / "slack-files")
    image = png()
    file = slack.add_file("screenshot.png", image, mimetype="image/png")
    event = await harness.mention("what is wrong here?", files=[file])
    request = await ask(model_server, "what is wrong here?")
    urls = images_of(request)
    assert len(urls) == 1
    assert urls[0].startswith("data:image/png;base64,")
    assert base64.b64decode(urls[0].split(",", 1)[1]) == image
    assert [d["authorized"] for d in slack.downloads] == [True]
    await final_reply(slack, event["ts"], f"echo: {request.last_user_text}")


async def test_a_text_file_is_saved_and_named_in_the_prompt(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer, tmp_path: Path
) -> None:
    harness = await start_bot(files_dir=tmp_path / "slack-files")
    log = b"ERROR: linker failed\n" * 3
    file = slack.add_file("build.log", log, mimetype="text/plain")
    await harness.mention("why did this fail?", files=[file])
    request = await ask(model_server, "why did this fail?")
    text = request.last_user_text
    assert "Files attached in Slack" in text
    line = next(line for line in text.splitlines() if line.startswith("- build.log: "))
    saved = Path(line.removeprefix("- build.log: "))
    assert await asyncio.to_thread(saved.read_bytes) == log
    assert tmp_path / "slack-files" in saved.parents


async def test_an_oversize_file_is_left_out_with_a_line_and_the_turn_runs(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer, tmp_path: Path
) -> None:
    harness = await start_bot(files_dir=tmp_path / "slack-files", file_max_bytes=100)
    big = slack.add_file("huge.log", b"x" * 1000, mimetype="text/plain")
    small = slack.add_file("small.log", b"ok\n", mimetype="text/plain")
    event = await harness.mention("look at both", files=[big, small])
    request = await ask(model_server, "look at both")
    assert "small.log" in request.last_user_text
    assert "huge.log" not in request.last_user_text
    await final_reply(slack, event["ts"], f"echo: {request.last_user_text}")
    assert any("`huge.log` was left out" in line for line in notices(slack, event["ts"]))


async def test_without_files_read_the_thread_is_told_and_nothing_is_saved(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer, tmp_path: Path
) -> None:
    harness = await start_bot(files_dir=tmp_path / "slack-files")
    slack.scopes = tuple(s for s in slack.scopes if s != "files:read")
    file = slack.add_file("notes.txt", b"secret plans", mimetype="text/plain")
    event = await harness.mention("read my notes", files=[file])
    request = await ask(model_server, "read my notes")
    assert "notes.txt" not in request.last_user_text
    await final_reply(slack, event["ts"], "echo: read my notes")
    assert any("files:read" in line for line in notices(slack, event["ts"]))
    assert not [p for p in (tmp_path / "slack-files").rglob("*") if p.is_file()]


async def test_an_image_posted_earlier_in_the_thread_comes_with_the_context(
    start_bot: StartBot, slack: SlackFake, model_server: ModelServer, tmp_path: Path
) -> None:
    harness = await start_bot(files_dir=tmp_path / "slack-files")
    file = slack.add_file("graph.png", png(), mimetype="image/png", user="U0002")
    parent = slack.add_message(CHANNEL, "latency went up, see graph", user="U0002", files=[file])
    await harness.mention("explain the graph", thread_ts=parent["ts"])
    request = await ask(model_server, "explain the graph")
    assert "(attached: graph.png)" in request.last_user_text
    assert len(images_of(request)) == 1

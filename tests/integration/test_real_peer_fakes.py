"""The test peers themselves: the scripted model really drives the pinned app-server."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from playground.model.scripted import ModelServer
from tests.fakes.codex_server import CodexServer


async def _call(ws: ClientConnection, request_id: int, method: str, params: Any) -> Any:
    await ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
    while True:
        message = json.loads(await ws.recv())
        if message.get("id") == request_id and "method" not in message:
            assert "error" not in message, message
            return message["result"]


async def test_scripted_model_streams_an_echo_through_the_real_server(
    codex_server: CodexServer, model_server: ModelServer
) -> None:
    """A raw JSON-RPC turn gets deltas and the model's exact echo as its final text."""
    async with connect(codex_server.url) as ws:
        await _call(ws, 1, "initialize", {"clientInfo": {"name": "fakes-check", "version": "0"}})
        await ws.send(json.dumps({"method": "initialized"}))
        thread = (await _call(ws, 2, "thread/start", {}))["thread"]
        await _call(
            ws,
            3,
            "turn/start",
            {"threadId": thread["id"], "input": [{"type": "text", "text": "hi there"}]},
        )
        deltas: list[str] = []
        while True:
            message = json.loads(await ws.recv())
            if message.get("method") == "item/agentMessage/delta":
                deltas.append(message["params"]["delta"])
            if message.get("method") == "turn/completed":
                turn = message["params"]["turn"]
                break
    assert turn["status"] == "completed"
    assert "".join(deltas) == "echo: hi there"
    assert model_server.requests[-1].last_user_text == "hi there"

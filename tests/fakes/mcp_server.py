"""A scripted MCP server (stdio) whose one tool asks the user for input through Codex.

Codex starts it from ``config.toml`` (:func:`mcp_config`) and lists its tool to the model as
``confirm`` in the ``mcp__<name>`` namespace. A call of ``confirm`` sends the client an
``elicitation/create`` form request (:data:`ELICITATION_MESSAGE`) and, once answered, returns
``elicitation: <the answer as JSON>`` as the tool's output. The real app-server passes the
elicitation on to its client as ``mcpServer/elicitation/request`` when the thread's approval
policy is not ``never`` (under ``never`` it declines it itself).

The tool is marked read-only, so Codex runs it without asking for an approval first. Run as
a script: newline-delimited JSON-RPC on stdin/stdout, standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ELICITATION_MESSAGE = "Which environment should the deploy go to?"


def mcp_config(name: str = "fake") -> str:
    """The ``config.toml`` table that makes Codex start this server as MCP server ``name``."""
    return (
        f"\n[mcp_servers.{name}]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(Path(__file__).resolve()))}]\n"
    )


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    sys.stdout.flush()


def main() -> None:
    calls: dict[str, Any] = {}  # elicitation id -> the tools/call request id it answers
    for line in sys.stdin:
        message = json.loads(line)
        method = message.get("method")
        if method is None:
            # An answer to one of our requests: the elicitation, which ends its tool call.
            call_id = calls.pop(str(message.get("id")), None)
            if call_id is not None:
                answer = message.get("result", message.get("error"))
                text = f"elicitation: {json.dumps(answer, sort_keys=True)}"
                _send({"id": call_id, "result": {"content": [{"type": "text", "text": text}]}})
        elif "id" not in message:
            continue  # a notification (initialized, cancelled…)
        elif method == "initialize":
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "codex-slack-tests", "version": "1.0"},
            }
            _send({"id": message["id"], "result": result})
        elif method == "tools/list":
            tool = {
                "name": "confirm",
                "description": "Asks the user which environment to deploy to.",
                "inputSchema": {"type": "object", "properties": {}},
                "annotations": {"readOnlyHint": True},
            }
            _send({"id": message["id"], "result": {"tools": [tool]}})
        elif method == "tools/call":
            elicitation_id = f"elicit-{len(calls) + 1}-{message['id']}"
            calls[elicitation_id] = message["id"]
            schema = {
                "type": "object",
                "properties": {"environment": {"type": "string", "enum": ["staging", "prod"]}},
                "required": ["environment"],
            }
            params = {"mode": "form", "message": ELICITATION_MESSAGE, "requestedSchema": schema}
            _send({"id": elicitation_id, "method": "elicitation/create", "params": params})
        else:
            _send({"id": message["id"], "result": {}})


if __name__ == "__main__":
    main()

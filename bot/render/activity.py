"""Tool activity: the compact line a reply shows while the agent works (``running `pytest```)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render._text import basename, short, unwrap_shell


def activity(item: Any) -> str | None:
    """A compact line for a tool item that started (``running `pytest```); None for others.

    ``item`` is a Codex ``ThreadItem``: a mapping, or a pydantic model of one.
    """
    data = _as_mapping(item)
    kind = data.get("type")
    if kind == "commandExecution":
        return _command_activity(data)
    if kind == "fileChange":
        changes = data.get("changes") or []
        paths = [str(change.get("path", "")) for change in changes if isinstance(change, Mapping)]
        if len(paths) == 1:
            return f"editing `{short(basename(paths[0]), 60)}`"
        return f"editing {len(paths)} files" if paths else "editing files"
    if kind == "mcpToolCall":
        tool = f"{data.get('server', '')}.{data.get('tool', '')}"
        return f"calling `{short(tool, 60)}`"
    if kind == "webSearch":
        query = data.get("query")
        return f"searching the web for “{short(str(query), 60)}”" if query else "searching the web"
    if kind == "reasoning":
        return "thinking"
    return None


def _command_activity(data: Mapping[str, Any]) -> str:
    actions = [a for a in data.get("commandActions") or [] if isinstance(a, Mapping)]
    if len(actions) == 1:
        action = actions[0]
        if action.get("type") == "read" and action.get("name"):
            return f"reading `{short(str(action['name']), 60)}`"
        if action.get("type") == "search":
            query = action.get("query")
            return f"searching for `{short(str(query), 60)}`" if query else "searching files"
        if action.get("type") == "listFiles":
            return "listing files"
        if action.get("command"):
            return f"running `{short(str(action['command']), 60)}`"
    return f"running `{short(unwrap_shell(str(data.get('command') or '')), 60)}`"


def _as_mapping(item: Any) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        data: dict[str, Any] = dump(by_alias=True)
        return data
    return {}

"""Tool activity: the compact line a reply shows while the agent works (``running `pytest```)."""

from __future__ import annotations

from bot.render._text import basename, short, unwrap_shell
from codex_client import (
    CommandExecutionItem,
    FileChangeItem,
    McpToolCallItem,
    ReasoningItem,
    ThreadItem,
    WebSearchItem,
)


def activity(item: ThreadItem) -> str | None:
    """A compact line for a tool item that started (``running `pytest```); None for others."""
    if isinstance(item, CommandExecutionItem):
        return _command_activity(item)
    if isinstance(item, FileChangeItem):
        paths = [change.path for change in item.changes]
        if len(paths) == 1:
            return f"editing `{short(basename(paths[0]), 60)}`"
        return f"editing {len(paths)} files" if paths else "editing files"
    if isinstance(item, McpToolCallItem):
        return f"calling `{short(f'{item.server}.{item.tool}', 60)}`"
    if isinstance(item, WebSearchItem):
        query = item.query
        return f"searching the web for “{short(query, 60)}”" if query else "searching the web"
    if isinstance(item, ReasoningItem):
        return "thinking"
    return None


def _command_activity(item: CommandExecutionItem) -> str:
    if len(item.command_actions) == 1:
        action = item.command_actions[0]
        if action.type == "read" and action.name:
            return f"reading `{short(action.name, 60)}`"
        if action.type == "search":
            query = action.query
            return f"searching for `{short(query, 60)}`" if query else "searching files"
        if action.type == "listFiles":
            return "listing files"
        if action.command:
            return f"running `{short(action.command, 60)}`"
    return f"running `{short(unwrap_shell(item.command), 60)}`"

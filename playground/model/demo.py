"""The playground's demo model: a canned agent behind the real Codex app-server.

Without ``OPENAI_API_KEY`` the playground points Codex at this model on 127.0.0.1, so the
whole loop (Slack, the bot, Redis, the app-server, tools, approvals) runs offline and only
the words are canned. What it does, by what the request Codex sends ends with:

- the first turn of a conversation: it asks Codex to run :attr:`DemoModel.command`, a
  harmless listing of the demo project; with the ``untrusted`` approval policy Codex asks
  first, so the thread shows an approval prompt and then the tool's activity;
- a later turn (a reply in the thread): it answers at once, with what it was sent of the
  earlier turns, which shows the Slack thread goes on as one Codex thread;
- a turn whose request says "ask" or "choose": it asks the user a question through Codex's
  ``request_user_input`` tool (buttons in Slack);
- the tool's output (or the user's answer): it streams a markdown answer about it, a few
  words every :attr:`DemoModel.pace` seconds, so the reply is seen being written;
- guidance that arrived while it was working (a steer: the request's last user message
  comes after this turn's tool call, not after an answer): it streams an answer that says
  what it was told.

Every final answer is kept in :attr:`DemoModel.answers`, oldest first; the reply in Slack
ends on exactly that text. :meth:`DemoModel.pause` holds every response until
:meth:`DemoModel.resume` (or until Codex hangs up, as on Stop and steer): a tool call before it
is sent, an answer after its first words; for tests that need a turn to be running.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from playground.model.scripted import ModelRequest, ModelServer, SseStream

__all__ = ["DEMO_COMMAND", "DemoModel", "answer_pieces"]

DEMO_COMMAND: Final = "ls -1"
"""What the demo asks Codex to run: harmless, and still asked about under ``untrusted``."""

QUESTION: Final = "Which file should I look at first?"
_ASKING: Final = re.compile(r"\b(ask|choose|question)\b", re.IGNORECASE)
_PIECE: Final = re.compile(r"\S+\s*|\s+")


@dataclass
class DemoModel(ModelServer):
    """The canned agent; ``async with DemoModel() as model`` serves it on 127.0.0.1."""

    pace: float = 0.06
    """Seconds between two pieces (a word or two) of a streamed answer: the scenario's own
    pacing, so a person sees the answer being written and has time to steer or stop it."""
    command: str = DEMO_COMMAND
    answers: list[str] = field(default_factory=list)
    """Every final answer streamed to the end, oldest first."""
    started: int = 0
    """Answers that have streamed their first piece (a paused one waits after it)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._running = asyncio.Event()
        self._running.set()

    def pause(self) -> None:
        """Hold every response until :meth:`resume`: a tool call before it is sent, an answer
        after its first piece."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def wait_for_started(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` answers have streamed their first piece."""
        await self._wait(lambda: self.started >= count, timeout)

    async def wait_for_answers(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` answers have streamed to their end."""
        await self._wait(lambda: len(self.answers) >= count, timeout)

    async def _wait(self, done: Callable[[], bool], timeout: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout)

    async def respond(self, recorded: ModelRequest, stream: SseStream) -> None:
        last = recorded.input[-1] if recorded.input else {}
        if last.get("type") == "function_call_output":
            await self._answer_tool(recorded, stream)
        elif _steered(recorded.input):
            await self._stream(stream, steered_answer(recorded.last_user_text))
        elif _ASKING.search(recorded.last_user_text):
            await self._running.wait()
            await stream.function_call("request_user_input", _question())
        elif (turn := _turn_number(recorded.input)) > 1:
            said = _said(recorded.input)
            await self._stream(stream, later_answer(turn, recorded.last_user_text, said))
        else:
            await self._running.wait()
            await stream.function_call("exec_command", {"cmd": self.command, "login": False})

    async def _answer_tool(self, recorded: ModelRequest, stream: SseStream) -> None:
        call = _call_of(recorded.input)
        output = recorded.tool_output or ""
        asked = _request_of(recorded.input)
        if call is not None and call.get("name") == "request_user_input":
            text = picked_answer(asked, _picked(output))
        else:
            text = tool_answer(asked, self.command, output)
        await self._stream(stream, text)

    async def _stream(self, stream: SseStream, text: str) -> None:
        pieces = answer_pieces(text)
        await stream.start_message()
        for index, piece in enumerate(pieces):
            await stream.delta(piece)
            if index == 0:
                self.started += 1
                await self._notify()
                await self._running.wait()
            # The pacing is the demo itself: an answer written over a few seconds.
            await asyncio.sleep(self.pace)
        await stream.finish_message(text)
        self.answers.append(text)
        await self._notify()


def answer_pieces(text: str) -> list[str]:
    """``text`` cut into the pieces streamed one by one: two words (with their spacing)
    each. Their concatenation is ``text``."""
    words = _PIECE.findall(text)
    return ["".join(words[i : i + 2]) for i in range(0, len(words), 2)] or [""]


def tool_answer(asked: str, command: str, output: str) -> str:
    """The answer after the demo command ran (or was declined)."""
    ran = _command_output(output)
    if ran is None:
        step = f"Codex asked before running `{command}`, the answer was **no**, and nothing ran."
        shown = ""
    else:
        step = f"Codex asked before running `{command}` in the demo project, and you approved."
        shown = f"What `{command}` printed:\n\n```text\n{ran.strip() or '(nothing)'}\n```\n\n"
    return (
        f"**Demo model**: this answer is canned, not real Codex. You asked: “{_gist(asked)}”\n\n"
        "### What really happened\n\n"
        "1. The bot turned your Slack thread into a thread on the **real Codex app-server**.\n"
        f"2. {step}\n"
        "3. This reply streamed into Slack as it was written, and ends on exactly this text.\n\n"
        f"{shown}"
        "Reply in the thread to continue, use `/steer <guidance>` or **Stop** while an answer "
        "is being written, and `/recap` for the thread's history. Set `OPENAI_API_KEY` for "
        "real answers."
    )


def later_answer(turn: int, asked: str, conversation: list[str]) -> str:
    """The answer to a later turn of the same thread: what Codex sent of the earlier ones."""
    first = conversation[0] if conversation else asked
    return (
        f"**Demo model**: this is turn {turn} of the same Codex thread. You said: "
        f"“{_gist(asked)}”\n\n"
        f"Codex sent me the whole conversation, {len(conversation)} messages from your side, "
        f"starting with “{_gist(first, 60)}”: a reply in the Slack thread continues "
        "the Codex thread, across restarts of the bot too."
    )


def steered_answer(guidance: str) -> str:
    """The answer to guidance sent while the turn ran."""
    return (
        f"**Steered**: you told me “{_gist(guidance)}” while I was working, and Codex handed "
        "it to me in the same turn.\n\n"
        "A real model would now change course; the demo model only says so. The turn goes "
        "on in this thread, and `/recap` shows it."
    )


def picked_answer(asked: str, picked: str | None) -> str:
    """The answer after the user answered the demo's question (or nobody did)."""
    if picked is None:
        return (
            f"**Demo model**: you asked “{_gist(asked)}”, I asked which file to read, "
            "and no answer came, so I went on without one."
        )
    return (
        f"**Demo model**: you asked “{_gist(asked)}”, I asked which file to look at, and "
        f"you picked **{picked}**.\n\nThe question came from Codex's `request_user_input` "
        "tool, shown in Slack as buttons; your click went back to Codex as the answer."
    )


def _question() -> dict[str, Any]:
    options = [
        {"label": "README.md", "description": "what the project says it does"},
        {"label": "app.py", "description": "what it really does"},
    ]
    return {
        "questions": [{"id": "file", "header": "File", "question": QUESTION, "options": options}]
    }


def _steered(items: list[dict[str, Any]]) -> bool:
    """Whether the last user message arrived during a turn: after the turn's tool call or
    output rather than after an answer (or at the start of the conversation)."""
    for item in reversed(items[:-1]):
        kind = item.get("type")
        if kind in ("function_call", "function_call_output"):
            return True
        if kind == "message" and item.get("role") in ("assistant", "user"):
            return False
    return False


def _turn_number(items: list[dict[str, Any]]) -> int:
    """Which turn of its conversation a request starts: one more than the answers before."""
    answers = [i for i in items if i.get("type") == "message" and i.get("role") == "assistant"]
    return len(answers) + 1


def _said(items: list[dict[str, Any]]) -> list[str]:
    """What the user said in the conversation, oldest first: its user messages, less the
    ones Codex writes itself (its ``<environment_context>`` and instructions blocks)."""
    texts = ModelRequest({"input": items}).user_texts
    return [text for text in texts if not text.lstrip().startswith("<")]


def _call_of(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tool call whose output ends the request."""
    call_id = items[-1].get("call_id") if items else None
    return next(
        (i for i in items if i.get("type") == "function_call" and i.get("call_id") == call_id),
        None,
    )


def _request_of(items: list[dict[str, Any]]) -> str:
    """What the user asked in the turn the request belongs to: the last user message."""
    return ModelRequest({"input": items}).last_user_text


def _command_output(output: str) -> str | None:
    """What the command printed, from Codex's tool output; None when it did not run."""
    if "Process exited with code" not in output:
        return None
    _, found, printed = output.partition("Output:\n")
    return printed if found else ""


def _picked(output: str) -> str | None:
    """The option the user picked, from ``request_user_input``'s output (JSON answers)."""
    try:
        answers = json.loads(output).get("answers", {})
    except (ValueError, AttributeError):
        return None
    for answer in answers.values() if isinstance(answers, dict) else []:
        picked = answer.get("answers") if isinstance(answer, dict) else None
        if isinstance(picked, list) and picked:
            return str(picked[0])
    return None


def _gist(text: str, limit: int = 120) -> str:
    """The user's words on one line, cut at ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"

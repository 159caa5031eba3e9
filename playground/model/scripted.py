"""A scripted model behind the real Codex app-server: the OpenAI Responses API over SSE.

Codex posts the whole conversation to ``POST /v1/responses`` and reads server-sent events.
The answer is chosen by directives in the *last* user message of the request (the first
one is Codex's ``<environment_context>`` block):

- default: ``echo: <prompt>``, streamed as several small deltas;
- ``HOLD``: one delta, then the stream waits for :meth:`ModelServer.release` (or for Codex
  to hang up, as it does on steer and interrupt) before finishing: a turn that stays running
  for exactly as long as a test needs, with no sleeps;
- ``EXEC <command>``: asks Codex to run ``<command>`` through the ``exec_command`` tool; the
  follow-up request (ending in the tool's output) is answered ``ran: <command>``;
- ``ASK <question>|<option>|<option>…``: calls the ``request_user_input`` tool with that one
  question (id ``choice``) and options, or more after ``;;`` (see :func:`ask_arguments`); the
  follow-up request (ending in the tool's output, the user's answers as JSON) is answered
  ``answer: <output>``. The real server offers the tool outside Plan mode only with the
  feature ``default_mode_request_user_input`` (:data:`~playground.codex_home.ASK_FEATURES`);
- ``CALL <namespace>.<tool>``: calls an MCP tool (``mcp__<server>`` namespaces, as Codex lists
  them) with no arguments; the follow-up is answered ``called: <output>``;
- ``FAIL500``: HTTP 500, which Codex turns into a failed turn;
- ``LONG <n>``: an answer of exactly ``n`` characters of markdown-ish paragraphs;
- ``DELTAS <n>``: the echo answer cut into ``n`` deltas.
- ``DRIP <n> <ms>``: ``n`` deltas ``w1 w2 …``, one every ``ms`` milliseconds: an answer that
  keeps moving for a known time (benchmarks measure how soon a reply moves again after a
  fault); the final text is their concatenation.

Every request is recorded, and tests can wait for one with :meth:`ModelServer.wait_for_request`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass
class ModelRequest:
    """One request Codex made to the model, with the parts tests look at."""

    body: dict[str, Any]

    @property
    def input(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.body.get("input", [])
        return items

    @property
    def user_texts(self) -> list[str]:
        """The text of every user message in the conversation, oldest first."""
        texts = []
        for item in self.input:
            if item.get("type") == "message" and item.get("role") == "user":
                texts.append("".join(part.get("text", "") for part in item.get("content", [])))
        return texts

    @property
    def last_user_text(self) -> str:
        texts = self.user_texts
        return texts[-1] if texts else ""

    @property
    def tool_output(self) -> str | None:
        """The output of the tool call this request answers, when its last item is one."""
        if self.input and self.input[-1].get("type") == "function_call_output":
            output = self.input[-1].get("output")
            return output if isinstance(output, str) else json.dumps(output)
        return None


def ask_arguments(prompt: str) -> dict[str, Any]:
    """The ``request_user_input`` arguments of ``ASK <question>|<option>|<option>…``: one
    question (id ``choice``), one option per label after the first ``|``. Further questions
    follow ``;;`` (ids ``choice_2``, ``choice_3``; headers ``Question 1``, ``Question 2``…)."""
    questions = []
    for number, part in enumerate(prompt[len("ASK ") :].split(";;"), start=1):
        question, *labels = (piece.strip() for piece in part.split("|"))
        questions.append(
            {
                "id": "choice" if number == 1 else f"choice_{number}",
                "header": f"Question {number}",
                "question": question,
                "options": [{"label": label, "description": f"pick {label}"} for label in labels],
            }
        )
    return {"questions": questions}


def drip_text(count: int) -> str:
    """The final text of a ``DRIP <count> <ms>`` answer."""
    return "".join(f"w{index} " for index in range(1, count + 1))


def long_text(length: int) -> str:
    """Deterministic markdown-ish text of exactly ``length`` characters."""
    words = ["alpha", "**bravo**", "charlie", "`delta`", "echo", "foxtrot", "golf", "hotel"]
    pieces: list[str] = []
    size = 0
    index = 0
    while size < length:
        word = words[index % len(words)]
        sep = "\n\n" if index % 40 == 39 else ("\n" if index % 13 == 12 else " ")
        pieces.append(word + sep)
        size += len(word) + len(sep)
        index += 1
    return "".join(pieces)[:length]


@dataclass
class ModelServer:
    """The scripted Responses-API server; use as ``async with ModelServer() as model``."""

    host: str = "127.0.0.1"
    requests: list[ModelRequest] = field(default_factory=list)
    responder: Callable[[ModelRequest], str] | None = None
    """Overrides the echo answer for plain prompts (directives still apply)."""

    def __post_init__(self) -> None:
        self._changed = asyncio.Condition()
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.holding = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/responses", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", [])
        self.port = sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def release(self) -> None:
        """Let every held (``HOLD``) stream, now and later, run to its end."""
        self._released.set()

    async def wait_for_request(
        self, predicate: Callable[[ModelRequest], bool], timeout: float = 20.0
    ) -> ModelRequest:
        """The first recorded request matching ``predicate``, waiting for it if need be."""

        def find() -> ModelRequest | None:
            return next((r for r in self.requests if predicate(r)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: find() is not None), timeout)
        found = find()
        assert found is not None
        return found

    async def wait_for_hold(self, count: int = 1, timeout: float = 20.0) -> None:
        """Wait until ``count`` held streams have sent their first delta."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.holding >= count), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = ModelRequest(await request.json())
        self.requests.append(recorded)
        await self._notify()
        if "FAIL500" in recorded.last_user_text and recorded.tool_output is None:
            return web.json_response({"error": {"message": "scripted failure"}}, status=500)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        stream = SseStream(response, len(self.requests))
        # Codex hangs up on a stream it no longer wants (a steer, an interrupt).
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            await self.respond(recorded, stream)
        return response

    async def respond(self, recorded: ModelRequest, stream: SseStream) -> None:
        """Write the answer to one request: the directives of the module docstring. A
        subclass plays another model by answering here (the demo model does)."""
        prompt = recorded.last_user_text
        if prompt.startswith("EXEC ") and recorded.tool_output is None:
            await stream.function_call("exec_command", {"cmd": prompt[len("EXEC ") :]})
        elif prompt.startswith("EXEC "):
            await stream.message([f"ran: {prompt[len('EXEC ') :]}"])
        elif prompt.startswith("ASK ") and recorded.tool_output is None:
            await stream.function_call("request_user_input", ask_arguments(prompt))
        elif prompt.startswith("ASK "):
            await stream.message([f"answer: {recorded.tool_output}"])
        elif prompt.startswith("CALL ") and recorded.tool_output is None:
            namespace, _, tool = prompt[len("CALL ") :].strip().partition(".")
            await stream.function_call(tool, {}, namespace=namespace)
        elif prompt.startswith("CALL "):
            await stream.message([f"called: {recorded.tool_output}"])
        elif prompt.startswith("DRIP "):
            count, interval_ms = (int(n) for n in prompt.split()[1:3])
            await stream.start_message()
            for index in range(1, count + 1):
                await stream.delta(f"w{index} ")
                # The pacing is the scenario itself (an answer written over time).
                await asyncio.sleep(interval_ms / 1000)
            await stream.finish_message(drip_text(count))
        elif "HOLD" in prompt:
            await stream.start_message()
            await stream.delta("held ")
            self.holding += 1
            await self._notify()
            await self._released.wait()
            await stream.delta("then released")
            await stream.finish_message("held then released")
        else:
            await stream.message(_split(self._answer(recorded), _delta_count(prompt)))

    def _answer(self, recorded: ModelRequest) -> str:
        prompt = recorded.last_user_text
        if prompt.startswith("LONG "):
            return long_text(int(prompt.split()[1]))
        if self.responder is not None:
            return self.responder(recorded)
        return f"echo: {prompt}"


def _delta_count(prompt: str) -> int:
    if prompt.startswith("DELTAS "):
        return max(1, int(prompt.split()[1]))
    return 4


def _split(text: str, parts: int) -> list[str]:
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class SseStream:
    """Writes one Responses-API event stream, in the order Codex expects."""

    def __init__(self, response: web.StreamResponse, serial: int) -> None:
        self._response = response
        self._item_id = f"msg_{serial}"
        self._response_id = f"resp_{serial}"
        self._text = ""

    async def _send(self, event_type: str, payload: dict[str, Any]) -> None:
        data = json.dumps({"type": event_type, **payload})
        await self._response.write(f"event: {event_type}\ndata: {data}\n\n".encode())

    async def _created(self) -> None:
        await self._send(
            "response.created",
            {"response": {"id": self._response_id, "status": "in_progress", "output": []}},
        )

    async def start_message(self) -> None:
        await self._created()
        item = {
            "id": self._item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        await self._send("response.output_item.added", {"output_index": 0, "item": item})

    async def delta(self, text: str) -> None:
        self._text += text
        await self._send(
            "response.output_text.delta",
            {"item_id": self._item_id, "output_index": 0, "content_index": 0, "delta": text},
        )

    async def finish_message(self, final_text: str) -> None:
        item = {
            "id": self._item_id,
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": final_text, "annotations": []}],
        }
        await self._send("response.output_item.done", {"output_index": 0, "item": item})
        await self._completed([item])

    async def message(self, deltas: list[str]) -> None:
        await self.start_message()
        for piece in deltas:
            await self.delta(piece)
        await self.finish_message("".join(deltas))

    async def function_call(
        self, name: str, arguments: dict[str, Any], *, namespace: str | None = None
    ) -> None:
        """A call of tool ``name`` (of ``namespace``, for the tools Codex lists in one)."""
        await self._created()
        item = {
            "id": f"fc_{self._item_id}",
            "type": "function_call",
            "name": name,
            "call_id": f"call_{self._item_id}",
            "arguments": "",
            "status": "in_progress",
        }
        if namespace is not None:
            item["namespace"] = namespace
        await self._send("response.output_item.added", {"output_index": 0, "item": item})
        done = {**item, "arguments": json.dumps(arguments), "status": "completed"}
        await self._send(
            "response.function_call_arguments.done",
            {"item_id": item["id"], "output_index": 0, "arguments": done["arguments"]},
        )
        await self._send("response.output_item.done", {"output_index": 0, "item": done})
        await self._completed([done])

    async def _completed(self, output: list[dict[str, Any]]) -> None:
        usage = {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        }
        await self._send(
            "response.completed",
            {
                "response": {
                    "id": self._response_id,
                    "status": "completed",
                    "output": output,
                    "usage": usage,
                }
            },
        )
        await self._response.write_eof()

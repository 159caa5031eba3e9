"""codex_client's wire vocabulary checked against the schema the installed binary generates.

The binary is whichever scripts/bootstrap installed: the pinned Codex, or the release the
CODEX_VERSION variable names, so the same tests check the client against every release it
supports. A session is run through the client against the fake app-server, and every frame
the client sent is checked against ``generate-json-schema --experimental``: the method must
exist, and every parameter name (at any depth) and enum value must be in that method's params
schema. The models' field names, the method names written in the client's source, the
response fields the client reads and the enum values it compares against are checked the
same way.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import codex_client
from codex_client import (
    AgentMessageDelta,
    Backoff,
    CodexPool,
    CommandAction,
    CommandExecutionApproval,
    Endpoint,
    FileChangeApproval,
    FileUpdateChange,
    ItemCompleted,
    ItemStarted,
    PatchChangeKind,
    PermissionsApproval,
    ThreadItem,
    Turn,
    TurnCompleted,
    TurnError,
    TurnErrorEvent,
    TurnStarted,
    UserInput,
)
from tests.fakes.fake_app_server import FakeAppServer

Schema = dict[str, Any]


@pytest.fixture(scope="module")
def schema_dir(codex_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schema")
    subprocess.run(
        [str(codex_binary), "app-server", "generate-json-schema", "--experimental", "--out", out],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def load(schema_dir: Path, name: str) -> Schema:
    data: Schema = json.loads((schema_dir / name).read_text())
    return data


def methods_of(union: Schema) -> dict[str, Schema | None]:
    """method name -> its params schema (None when it takes none), from a oneOf union."""
    table: dict[str, Schema | None] = {}
    for variant in union["oneOf"]:
        params = variant["properties"].get("params")
        for method in variant["properties"]["method"]["enum"]:
            table[method] = params
    return table


class Checker:
    """Checks a JSON value's keys and enum strings against a schema (not a full validator)."""

    def __init__(self, definitions: Schema) -> None:
        self.definitions = definitions

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def variants(self, schema: Schema) -> list[Schema]:
        schema = self.resolve(schema)
        alternatives = schema.get("oneOf", []) + schema.get("anyOf", [])
        base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "allOf")}
        for part in schema.get("allOf", []):
            part = self.resolve(part)
            base.setdefault("properties", {}).update(part.get("properties", {}))
            base.setdefault("type", part.get("type"))
        if not alternatives:
            return [base]
        found = []
        for alternative in alternatives:
            for variant in self.variants(alternative):
                merged = {**base, **variant}
                merged["properties"] = {
                    **base.get("properties", {}),
                    **variant.get("properties", {}),
                }
                found.append(merged)
        return found

    def errors(self, value: Any, schema: Schema, path: str) -> list[str]:
        variants = self.variants(schema)
        if isinstance(value, dict):
            objects = [v for v in variants if v.get("properties") or _allows(v, "object")]
            tag = value.get("type")
            tagged = [
                v for v in objects if tag in v.get("properties", {}).get("type", {}).get("enum", [])
            ]
            objects = tagged or objects
            if not objects:
                return [f"{path}: no object allowed here"]
            problems = []
            for key, item in value.items():
                candidates = [
                    v["properties"][key] for v in objects if key in v.get("properties", {})
                ]
                if not candidates:
                    problems.append(f"{path}.{key}: not in the schema")
                    continue
                found = [self.errors(item, c, f"{path}.{key}") for c in candidates]
                if all(found):
                    problems += found[0]
            return problems
        if isinstance(value, list):
            arrays = [v for v in variants if "items" in v]
            if not arrays:
                return []
            return [
                problem
                for index, item in enumerate(value)
                for problem in self.errors(item, arrays[0]["items"], f"{path}[{index}]")
            ]
        if isinstance(value, str):
            strings = [v for v in variants if _allows(v, "string") or "enum" in v]
            if strings and all("enum" in v for v in strings):
                allowed = {e for v in strings for e in v["enum"]}
                if value not in allowed:
                    return [f"{path}: {value!r} not one of {sorted(allowed)}"]
        return []


def _allows(schema: Schema, kind: str) -> bool:
    declared = schema.get("type")
    return declared == kind or (isinstance(declared, list) and kind in declared)


async def record_session(fake: FakeAppServer) -> None:
    """Drive every request the client knows how to send."""
    fake.hold_turns = True
    backoff = Backoff(initial=0.001, maximum=0.001)
    async with CodexPool([Endpoint(fake.url)], backoff=backoff, request_timeout=5) as pool:
        thread = await pool.start_thread(
            model="m", cwd="/tmp", approval_policy="untrusted", sandbox="read-only"
        )
        resumed = await pool.resume_thread(thread.id)
        turn = await resumed.start_turn("hello")
        await fake.wait_for(lambda: fake.held_turns() == 1)
        await turn.steer("steer")
        await turn.interrupt()
        await turn.wait()
        await thread.read()
        await thread.turns(limit=5, cursor="opaque").next_page()
        lazily = pool.thread("another-thread")
        fake.hold_turns = False
        await (await lazily.start_turn([{"type": "text", "text": "items"}])).wait()
        await lazily.unsubscribe()


async def test_every_frame_the_client_sends_matches_the_schema(schema_dir: Path) -> None:
    """Each method the client sent exists, with only schema-known param names and enums."""
    requests = load(schema_dir, "ClientRequest.json")
    table = methods_of(requests)
    notifications = methods_of(load(schema_dir, "ClientNotification.json"))
    checker = Checker(requests["definitions"])
    async with FakeAppServer() as fake:
        await record_session(fake)
    sent = [m for _, m in fake.received if "method" in m]
    problems = []
    for message in sent:
        method = message["method"]
        if "id" not in message:
            assert method in notifications, method
            continue
        assert method in table, f"{method} is not a request the server knows"
        schema = table[method]
        assert schema is not None
        problems += checker.errors(message.get("params", {}), schema, method)
    assert problems == []
    assert {m["method"] for m in sent} >= {
        "initialize",
        "initialized",
        "thread/start",
        "thread/resume",
        "turn/start",
        "turn/steer",
        "turn/interrupt",
        "thread/read",
        "thread/turns/list",
        "thread/unsubscribe",
    }


def test_the_checker_rejects_unknown_names_and_enum_values(schema_dir: Path) -> None:
    """The schema checker itself flags a misspelt parameter and a bad enum value."""
    requests = load(schema_dir, "ClientRequest.json")
    checker = Checker(requests["definitions"])
    schema = methods_of(requests)["thread/turns/list"]
    assert schema is not None
    bad = {"threadId": "t", "view": "summary", "itemsView": "unloaded"}
    assert checker.errors(bad, schema, "p") == [
        "p.view: not in the schema",
        "p.itemsView: 'unloaded' not one of ['full', 'notLoaded', 'summary']",
    ]


def _model_names(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _definition_props(schema: Schema, name: str) -> set[str]:
    checker = Checker(schema["definitions"])
    return {
        key
        for variant in checker.variants({"$ref": f"#/definitions/{name}"})
        for key in variant.get("properties", {})
    }


def test_model_field_names_exist_in_the_schema(schema_dir: Path) -> None:
    """Every field of the typed models is a real key of the object it models."""
    notes = load(schema_dir, "ServerNotification.json")
    table = methods_of(notes)
    events: list[tuple[type[BaseModel], str]] = [
        (TurnStarted, "turn/started"),
        (ItemStarted, "item/started"),
        (ItemCompleted, "item/completed"),
        (AgentMessageDelta, "item/agentMessage/delta"),
        (TurnCompleted, "turn/completed"),
        (TurnErrorEvent, "error"),
    ]
    for model, method in events:
        params = table[method]
        assert params is not None
        name = params["$ref"].rsplit("/", 1)[-1]
        assert _model_names(model) <= _definition_props(notes, name), model
        assert method == model.METHOD  # type: ignore[attr-defined]
    assert _model_names(Turn) <= _definition_props(notes, "Turn")
    assert _model_names(TurnError) <= _definition_props(notes, "TurnError")
    for item in _members(ThreadItem):
        assert _model_names(item) <= _tagged_props(notes, "ThreadItem", item), item
    for part in _members(UserInput):
        assert _model_names(part) <= _tagged_props(notes, "UserInput", part), part
    parts: list[tuple[type[BaseModel], str]] = [
        (CommandAction, "CommandAction"),
        (FileUpdateChange, "FileUpdateChange"),
        (PatchChangeKind, "PatchChangeKind"),
    ]
    for model, name in parts:
        assert _model_names(model) <= _definition_props(notes, name), model


def _members(union: Any) -> list[type[BaseModel]]:
    """The classes of a discriminated union such as ThreadItem: Annotated[A | B…, how]."""
    members = typing.get_args(typing.get_args(union)[0])
    return [typing.get_args(member)[0] for member in members]


def _tagged_props(schema: Schema, name: str, model: type[BaseModel]) -> set[str]:
    """The keys of the variant of definition ``name`` whose ``type`` is the model's tag; for
    the union's fallback (``type: str``, no tag), the keys every variant has."""
    checker = Checker(schema["definitions"])
    variants = checker.variants({"$ref": f"#/definitions/{name}"})
    tag = model.model_fields["type"].default
    tagged = [v for v in variants if tag in v["properties"]["type"].get("enum", [])]
    if isinstance(tag, str):
        assert tagged, f"{name} has no variant of type {tag!r}"
        return {key for variant in tagged for key in variant["properties"]}
    return set.intersection(*(set(v["properties"]) for v in variants)) | {"type"}


def test_server_request_models_match_their_params(schema_dir: Path) -> None:
    """Each typed approval is a server request method, with only its params' keys."""
    requests = methods_of(load(schema_dir, "ServerRequest.json"))
    approvals: list[tuple[type[BaseModel], str]] = [
        (CommandExecutionApproval, "CommandExecutionRequestApprovalParams"),
        (FileChangeApproval, "FileChangeRequestApprovalParams"),
        (PermissionsApproval, "PermissionsRequestApprovalParams"),
    ]
    for model, name in approvals:
        assert model.METHOD in requests  # type: ignore[attr-defined]
        params = load(schema_dir, f"{name}.json")
        assert _model_names(model) <= set(params["properties"]), model
        assert _model_names(model) >= set(params["required"]) - {"startedAtMs"}, model


def test_response_and_server_request_fields_the_client_reads_exist(schema_dir: Path) -> None:
    """The result keys and approval params the client reads are in their schemas."""
    reads = {
        "v2/ThreadStartResponse.json": {"thread"},
        "v2/ThreadResumeResponse.json": {"thread"},
        "v2/TurnStartResponse.json": {"turn"},
        "v2/TurnSteerResponse.json": {"turnId"},
        "v2/ThreadTurnsListResponse.json": {"data", "nextCursor", "backwardsCursor"},
        "CommandExecutionRequestApprovalParams.json": {
            "threadId",
            "turnId",
            "itemId",
            "command",
            "reason",
            "availableDecisions",
        },
        "FileChangeRequestApprovalParams.json": {"threadId", "turnId", "itemId", "reason"},
    }
    for name, keys in reads.items():
        assert keys <= set(load(schema_dir, name)["properties"]), name


def test_method_names_in_the_client_source_exist(schema_dir: Path) -> None:
    """Every method-like string literal in codex_client is a method the schema knows."""
    known = set()
    for name in ("ClientRequest", "ClientNotification", "ServerNotification", "ServerRequest"):
        known |= set(methods_of(load(schema_dir, f"{name}.json")))
    pattern = re.compile(r"^(?:[a-z][a-zA-Z]*/)+[a-z][a-zA-Z]*$|^(initialize|initialized|error)$")
    package = Path(codex_client.__file__).parent
    literals = {
        node.value
        for path in package.glob("*.py")
        if path.name != "testing.py"  # the fake app-server sends unknown methods on purpose
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and pattern.match(node.value)
    }
    assert "turn/steer" in literals
    assert literals - known == set()


def _values(schema: Schema, name: str, key: str | None = None) -> set[str]:
    """The strings a definition allows: its enum values, or those of its variants' ``key``."""
    checker = Checker(schema["definitions"])
    found: set[str] = set()
    for variant in checker.variants({"$ref": f"#/definitions/{name}"}):
        if key is None:
            found |= set(variant.get("enum", []))
        else:
            found |= set(
                checker.resolve(variant.get("properties", {}).get(key, {})).get("enum", [])
            )
    return found


def test_values_the_client_compares_against_exist(schema_dir: Path) -> None:
    """Turn statuses, item types, the final-answer phase and the approval decisions that
    codex_client and the bot test for are values the server can send or accept."""
    notes = load(schema_dir, "ServerNotification.json")
    assert {"inProgress", "completed", "interrupted", "failed"} <= _values(notes, "TurnStatus")
    assert {"agentMessage", "userMessage", "commandExecution", "fileChange"} <= _values(
        notes, "ThreadItem", "type"
    )
    assert "final_answer" in _values(notes, "MessagePhase")
    command = load(schema_dir, "CommandExecutionRequestApprovalResponse.json")
    assert {"accept", "decline", "cancel"} <= _values(command, "CommandExecutionApprovalDecision")
    files = load(schema_dir, "FileChangeRequestApprovalResponse.json")
    assert {"accept", "acceptForSession", "decline", "cancel"} <= _values(
        files, "FileChangeApprovalDecision"
    )

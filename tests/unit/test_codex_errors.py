"""Error classification of JSON-RPC error answers, and the shape of the error tree."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

import codex_client
from codex_client import (
    AuthError,
    CodexError,
    ConnectionLost,
    NoActiveTurn,
    RpcError,
    ServerOverloaded,
    ThreadNotFound,
    TransportError,
    TurnMismatch,
)
from codex_client._errors import rpc_error


def test_overload_is_classified_by_code_alone() -> None:
    """-32001 is ServerOverloaded whatever the message (it carries no data)."""
    error = rpc_error("turn/start", -32001, "Server overloaded; retry later.")
    assert isinstance(error, ServerOverloaded)
    assert error.code == -32001
    assert error.method == "turn/start"


def test_steer_errors_are_classified_from_the_real_messages() -> None:
    """The server's exact steer messages map to NoActiveTurn and TurnMismatch(expected, actual)."""
    idle = rpc_error("turn/steer", -32600, "no active turn to steer")
    wrong = rpc_error(
        "turn/steer", -32600, "expected active turn id `nope` but found `01a20f61-72ee`"
    )
    assert isinstance(idle, NoActiveTurn)
    assert isinstance(wrong, TurnMismatch)
    assert (wrong.expected, wrong.actual) == ("nope", "01a20f61-72ee")


@pytest.mark.parametrize(
    "message",
    ["thread not found: 0a1b", "thread not loaded: 0a1b"],
)
def test_unknown_and_unloaded_threads_are_thread_not_found(message: str) -> None:
    """Both "thread not found" and "thread not loaded" are ThreadNotFound with the id."""
    error = rpc_error("turn/start", -32600, message)
    assert isinstance(error, ThreadNotFound)
    assert error.thread_id == "0a1b"


def test_other_errors_stay_plain_rpc_errors_with_their_data() -> None:
    """Anything else is a plain RpcError that keeps code, message and data."""
    error = rpc_error("thread/resume", -32600, "thread x already has an active writer", {"k": 1})
    assert type(error) is RpcError
    assert (error.code, error.message, error.data) == (
        -32600,
        "thread x already has an active writer",
        {"k": 1},
    )
    assert "thread/resume" in str(error)


def test_the_tree_has_one_root_and_keeps_auth_out_of_transport() -> None:
    """Every error is a CodexError; AuthError is deliberately not a TransportError."""
    for name in codex_client.__all__:
        obj = getattr(codex_client, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, CodexError), name
            assert not hasattr(builtins, name), f"{name} shadows a builtin"
    assert issubclass(ConnectionLost, TransportError)
    assert not issubclass(AuthError, TransportError)


def test_the_module_docstring_draws_every_error_class() -> None:
    """The tree drawn in _errors.py names every exported error class."""
    doc = codex_client._errors.__doc__ or ""
    for name in codex_client.__all__:
        obj = getattr(codex_client, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert name in doc, name


def test_typed_errors_can_be_raised_plainly_by_fakes() -> None:
    """The typed errors build the server's wording from keyword arguments alone."""
    mismatch = TurnMismatch(expected="a", actual="b")
    assert (mismatch.expected, mismatch.actual) == ("a", "b")
    assert rpc_error("turn/steer", -32600, mismatch.message).__class__ is TurnMismatch
    assert NoActiveTurn().message == "no active turn to steer"
    assert ServerOverloaded().code == -32001
    assert ThreadNotFound(thread_id="t9").message == "thread not found: t9"


def test_errors_keep_their_cause() -> None:
    """The client chains what it translates (``raise … from exc``); the one exception is the
    capability token's decode error, which holds the token's bytes."""
    package = Path(codex_client.__file__).parent
    unchained = [
        f"{path.name}:{number}"
        for path in sorted(package.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.rstrip().endswith("from None")
    ]
    assert len(unchained) == 1
    assert unchained[0].startswith("_auth.py:")

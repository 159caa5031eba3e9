"""Codex's questions: the request read, the prompt and modal rendered, the answers built."""

from __future__ import annotations

from typing import Any

import pytest

from bot import render
from bot.questions import (
    button_answer,
    parse_questions,
    restored,
    stored,
    view_answers,
    view_errors,
)

# The params of item/tool/requestUserInput as the real 0.171 app-server sends them.
REQUEST: dict[str, Any] = {
    "threadId": "t",
    "turnId": "u",
    "itemId": "call_1",
    "questions": [
        {
            "id": "choice",
            "header": "Colour",
            "question": "Which colour?",
            "isOther": True,
            "isSecret": False,
            "options": [
                {"label": "red", "description": "warm"},
                {"label": "blue", "description": "cool"},
            ],
        }
    ],
    "isBlocking": False,
    "autoResolutionMs": None,
}

TWO = (
    render.Question(id="env", header="Env", question="Where to?", options=(("staging", ""),)),
    render.Question(
        id="why",
        header="Why",
        question="Why now?",
        options=(("fix", ""), ("feature", "")),
        is_other=True,
    ),
)


def _radio(value: str) -> dict[str, Any]:
    return {"choice": {"type": "radio_buttons", "selected_option": {"value": value}}}


def _text(value: str | None) -> dict[str, Any]:
    return {"text": {"type": "plain_text_input", "value": value}}


def test_the_servers_request_reads_as_questions_and_survives_the_record() -> None:
    """The real shape parses; stored and restored (the Redis record) it is the same."""
    questions = parse_questions(REQUEST)
    assert questions == (
        render.Question(
            id="choice",
            header="Colour",
            question="Which colour?",
            options=(("red", "warm"), ("blue", "cool")),
            is_other=True,
        ),
    )
    assert restored(stored(questions)) == questions


@pytest.mark.parametrize(
    "questions",
    [
        None,
        [],
        [{"header": "no id", "question": "?"}],
        [{"id": "a", "question": "?"}, {"id": "a", "question": "again?"}],
        "not a list",
    ],
)
def test_questions_that_cannot_be_shown_are_none(questions: Any) -> None:
    """No questions, one without an id, or two that share one: nothing to ask."""
    assert parse_questions({"questions": questions}) is None


def test_a_click_answers_with_the_options_label() -> None:
    """Option ``index`` answers with its label; a stale index raises."""
    questions = parse_questions(REQUEST)
    assert questions is not None
    assert button_answer(questions, 1) == {"choice": {"answers": ["blue"]}}
    with pytest.raises(IndexError):
        button_answer(questions, 2)
    with pytest.raises(IndexError):
        button_answer(TWO, 0)


def test_one_question_shows_option_buttons_and_other() -> None:
    """Each option is a button valued ``<id>:<index>``; "Other…" carries the id; the
    description is in the text. Answered, the buttons give way to the outcome."""
    questions = parse_questions(REQUEST)
    assert questions is not None
    prompt = render.QuestionPrompt(started_by="U1", questions=questions)
    blocks = render.question_blocks(prompt, request_id="rq")
    row = next(b for b in blocks if b["type"] == "actions")
    assert [(e["text"]["text"], e["value"]) for e in row["elements"]] == [
        ("red", "rq:0"),
        ("blue", "rq:1"),
        ("Other…", "rq"),
    ]
    assert [e["action_id"] for e in row["elements"]] == [
        *render.ACTION_QUESTION[:2],
        render.ACTION_QUESTION_MODAL,
    ]
    assert "cool" in str(blocks)
    answered = render.question_blocks(prompt, request_id="rq", outcome="✅ done")
    assert not [b for b in answered if b["type"] == "actions"]
    assert "✅ done" in str(answered)


def test_several_questions_answer_in_one_modal() -> None:
    """Several questions show one "Answer…" button; the modal holds a choice per question
    (optional where the user may write instead) and a text field where allowed."""
    prompt = render.QuestionPrompt(started_by="U1", questions=TWO)
    row = next(b for b in render.question_blocks(prompt, request_id="rq") if b["type"] == "actions")
    assert [(e["text"]["text"], e["value"]) for e in row["elements"]] == [("Answer…", "rq")]
    modal = render.question_modal(prompt, request_id="rq")
    assert modal["callback_id"] == render.QUESTION_MODAL
    assert modal["private_metadata"] == "rq"
    assert len(modal["title"]["text"]) <= 24
    shape = [
        (b["block_id"], b["element"]["type"], b.get("optional", False)) for b in modal["blocks"]
    ]
    assert shape == [
        ("q0_choice", "radio_buttons", False),
        ("q1_choice", "radio_buttons", True),
        ("q1_text", "plain_text_input", True),
    ]


def test_the_other_modal_of_one_question_asks_for_text_only() -> None:
    """For one question the options are buttons, so its modal is a required text field."""
    questions = parse_questions(REQUEST)
    assert questions is not None
    modal = render.question_modal(
        render.QuestionPrompt(started_by="U1", questions=questions), request_id="rq"
    )
    assert [(b["block_id"], b.get("optional", False)) for b in modal["blocks"]] == [
        ("q0_text", False)
    ]


def test_a_modals_answers_and_missing_ones() -> None:
    """A choice answers with its label, text with the text, both with both; a question with
    neither is an error on its own block (and no answers at all)."""
    values = {"q0_choice": _radio("0"), "q1_choice": _radio("1"), "q1_text": _text(" soon ")}
    assert view_errors(values) == {}
    assert view_answers(TWO, values) == {
        "env": {"answers": ["staging"]},
        "why": {"answers": ["feature", "soon"]},
    }
    missing = {"q0_choice": _radio("0"), "q1_choice": {"choice": {"selected_option": None}}}
    missing["q1_text"] = _text(None)
    assert view_errors(missing) == {"q1_text": "Pick an option or write an answer."}
    assert view_answers(TWO, missing) is None
    assert view_answers(TWO[1:], {"q0_text": _text("because")}) == {"why": {"answers": ["because"]}}


def test_the_outcome_names_who_answered_what_but_not_secrets() -> None:
    """One question: who and the answer; several: each by header; a secret one hidden."""
    one = render.QuestionPrompt(started_by="U1", questions=TWO[:1])
    assert render.question_outcome(one, {"env": ["staging"]}, user="U2") == (
        "✅ <@U2> answered *staging*."
    )
    secret = render.Question(id="pw", header="Token", question="Token?", is_secret=True)
    several = render.QuestionPrompt(started_by="U1", questions=(TWO[0], secret))
    line = render.question_outcome(several, {"env": ["staging"], "pw": ["hunter2"]}, user="U2")
    assert line == "✅ <@U2> answered: Env: *staging*; Token: _(private)_."
    assert "expired" in render.question_expired("the turn ended")


def test_requests_nobody_can_answer_in_slack_get_a_line() -> None:
    """An MCP elicitation names its server and message (escaped); requests that want no
    person (a tool call, the time) get no line; an unknown method is named."""
    line = render.request_refused(
        "mcpServer/elicitation/request", {"serverName": "db", "message": "Drop <all>?"}
    )
    assert line is not None
    assert "`db`" in line
    assert "Drop &lt;all&gt;?" in line
    assert render.request_refused("item/tool/call", {}) is None
    assert render.request_refused("currentTime/read", {}) is None
    assert "`future/ask`" in str(render.request_refused("future/ask", {}))

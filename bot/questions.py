"""Codex's questions (``item/tool/requestUserInput``): the request read, the answers built.

The model's ``request_user_input`` tool asks one to three questions; the app-server sends
them to the client as ``{threadId, turnId, itemId, questions: [{id, header, question,
options: [{label, description}], isOther, isSecret}], isBlocking}`` and waits for
``{answers: {<question id>: {answers: [<string>, …]}}}``, which becomes the tool's output.
An option clicked answers with its label; a free answer with the text typed; both (a choice
and a note, in the modal) with the label then the text. No answers (``{answers: {}}``) tell
Codex to go on with its own judgment: that is what an expired or refused question gets.

The questions are kept in the request's :class:`~bot.store.ApprovalRecord` (as
:func:`stored` writes them), so whichever replica gets the click can build the answer.
:class:`bot.approvals.Approvals` posts the prompt and answers Codex.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import render
from bot.render.questions import CHOICE, TEXT

__all__ = [
    "USER_INPUT",
    "Answers",
    "button_answer",
    "parse_questions",
    "restored",
    "stored",
    "view_answers",
    "view_errors",
]

log = logging.getLogger(__name__)

USER_INPUT: Final = "item/tool/requestUserInput"

Answers = dict[str, dict[str, list[str]]]
"""The ``answers`` of Codex's expected response: question id -> ``{"answers": [...]}``."""

MAX_QUESTIONS: Final = 5
"""More than the tool allows (3); the rest would not fit a modal's sense anyway."""
_NEEDS_ANSWER: Final = "Pick an option or write an answer."


class _Option(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: str
    description: str = ""


class _Question(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1)
    header: str = ""
    question: str = ""
    options: list[_Option] | None = None
    is_other: bool = Field(default=False, alias="isOther")
    is_secret: bool = Field(default=False, alias="isSecret")


def parse_questions(params: Mapping[str, Any]) -> tuple[render.Question, ...] | None:
    """The questions of a ``requestUserInput`` request; None when there is none to show
    (no questions, malformed ones, or two with the same id, which no answer could tell
    apart)."""
    raw = params.get("questions")
    if not isinstance(raw, list) or not raw:
        return None
    try:
        parsed = [_Question.model_validate(item) for item in raw[:MAX_QUESTIONS]]
    except ValidationError as exc:
        log.warning("requestUserInput questions do not fit: %s", exc.errors()[:1])
        return None
    if len({q.id for q in parsed}) != len(parsed):
        return None
    return tuple(
        render.Question(
            id=q.id,
            header=q.header,
            question=q.question or q.header,
            options=tuple((o.label, o.description) for o in q.options or [] if o.label.strip()),
            is_other=q.is_other,
            is_secret=q.is_secret,
        )
        for q in parsed
    )


def stored(questions: Sequence[render.Question]) -> list[dict[str, Any]]:
    """The questions as JSON for the request's record (see :func:`restored`)."""
    return [
        {
            "id": q.id,
            "header": q.header,
            "question": q.question,
            "options": [{"label": label, "description": text} for label, text in q.options],
            "isOther": q.is_other,
            "isSecret": q.is_secret,
        }
        for q in questions
    ]


def restored(data: Sequence[Any]) -> tuple[render.Question, ...]:
    """The questions a record holds (as :func:`stored` wrote them)."""
    return parse_questions({"questions": list(data)}) or ()


def button_answer(questions: Sequence[render.Question], index: int) -> Answers:
    """The answer of a click on option ``index`` of a one-question prompt."""
    if len(questions) != 1 or not 0 <= index < len(questions[0].options):
        raise IndexError(index)
    return {questions[0].id: {"answers": [questions[0].options[index][0]]}}


def _given(values: Mapping[str, Any], index: int) -> tuple[int | None, str]:
    """What question ``index`` got in a modal's ``state.values``: the option number picked
    (None if none) and the text typed (stripped, maybe empty)."""
    choice = (values.get(f"q{index}_{CHOICE}") or {}).get(CHOICE) or {}
    selected = choice.get("selected_option") or {}
    try:
        picked = int(selected["value"]) if selected.get("value") is not None else None
    except (TypeError, ValueError):
        picked = None
    text = (values.get(f"q{index}_{TEXT}") or {}).get(TEXT) or {}
    return picked, str(text.get("value") or "").strip()


def view_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """Slack's ``response_action: errors`` for a submitted answer modal: each question shown
    (by its blocks in ``state.values``) that got neither an option nor text. Needs no Redis,
    so the submission can be refused before its acknowledgement."""
    indexes = set()
    for block_id in values:
        head, _, kind = str(block_id).partition("_")
        if head.startswith("q") and head[1:].isdigit() and kind in (CHOICE, TEXT):
            indexes.add(int(head[1:]))
    errors = {}
    for index in sorted(indexes):
        picked, text = _given(values, index)
        if picked is None and not text:
            block = f"q{index}_{TEXT}" if f"q{index}_{TEXT}" in values else f"q{index}_{CHOICE}"
            errors[block] = _NEEDS_ANSWER
    return errors


def view_answers(questions: Sequence[render.Question], values: Mapping[str, Any]) -> Answers | None:
    """The answers a submitted modal gives to ``questions``; None if one has none."""
    answers: Answers = {}
    for index, question in enumerate(questions):
        picked, text = _given(values, index)
        given = []
        if picked is not None and 0 <= picked < len(question.options):
            given.append(question.options[picked][0])
        if text:
            given.append(text)
        if not given:
            return None
        answers[question.id] = {"answers": given}
    return answers

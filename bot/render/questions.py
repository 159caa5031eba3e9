"""Codex's questions to the user: the prompt with its options, the answer modal, the outcome.

Codex's ``request_user_input`` tool asks one to three questions, each with a few options and,
usually, room for an answer in the user's own words (``is_other``). One question shows one
button per option, plus "Other…" for a free answer, which opens a modal; several questions
show a single "Answer…" button whose modal holds them all (a choice and, where allowed, a
text field per question), so the answers reach Codex together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk.models.blocks import (
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
)

from bot.mrkdwn import escape
from bot.render._blocks import Block, actions, button, context, section
from bot.render._text import short, truncate

QUESTION_BUTTONS: Final = 8
"""At most this many option buttons on a question prompt (the tool asks for 2-3 options)."""
ACTION_QUESTION: Final = tuple(f"codex_question_{i}" for i in range(QUESTION_BUTTONS))
"""One action id per option button position (unique within the block, as Slack wants)."""
ACTION_QUESTION_MODAL: Final = "codex_question_answer"
"""The "Other…"/"Answer…" button: opens the answer modal."""
QUESTION_MODAL: Final = "codex_question_modal"
"""The answer modal's ``callback_id``."""
CHOICE: Final = "choice"
"""Action id of a question's radio buttons in the modal (block ``q<index>_choice``)."""
TEXT: Final = "text"
"""Action id of a question's text field in the modal (block ``q<index>_text``)."""
MODAL_OPTIONS: Final = 10
"""Slack's cap on radio buttons in one element."""


@dataclass(frozen=True)
class Question:
    """One of Codex's questions, as the prompt shows it."""

    id: str
    header: str
    question: str
    options: tuple[tuple[str, str], ...] = ()
    """``(label, description)`` of each option, in Codex's order."""
    is_other: bool = False
    """Whether an answer in the user's own words is welcome besides the options."""
    is_secret: bool = False
    """Whether the answer must not be shown in the thread."""

    @property
    def free_text(self) -> bool:
        """Whether the modal offers a text field: asked for, or the only way to answer."""
        return self.is_other or not self.options


@dataclass(frozen=True)
class QuestionPrompt:
    """What Codex asks, and whose turn it is."""

    started_by: str
    questions: tuple[Question, ...]

    @property
    def buttons(self) -> bool:
        """Whether the prompt answers with one click: a single question with options."""
        return len(self.questions) == 1 and bool(self.questions[0].options)


def question_text(prompt: QuestionPrompt) -> str:
    """The notification text of a question message (its blocks say more)."""
    if len(prompt.questions) == 1:
        return f"Codex asks: {short(prompt.questions[0].question, 200)}"
    return f"Codex has {len(prompt.questions)} questions"


def question_blocks(
    prompt: QuestionPrompt, *, request_id: str, outcome: str | None = None
) -> list[Block]:
    """A question message: the questions and their options, then buttons or the outcome.

    Option buttons' values are ``<request_id>:<option index>``; the "Other…"/"Answer…"
    button's value is ``request_id``. The questions themselves stay server-side with the
    request's record.
    """
    count = len(prompt.questions)
    title = "*❓ Codex has a question*" if count == 1 else f"*❓ Codex has {count} questions*"
    blocks = [section(f"{title} for <@{prompt.started_by}>'s turn")]
    for question in prompt.questions:
        blocks.append(section(_question_body(question)))
    if outcome is not None:
        blocks.append(context(outcome))
        return blocks
    if prompt.buttons:
        only = prompt.questions[0]
        elements = [
            button(short(label, 70), ACTION_QUESTION[index], f"{request_id}:{index}")
            for index, (label, _) in enumerate(only.options[:QUESTION_BUTTONS])
        ]
        if only.free_text:
            elements.append(button("Other…", ACTION_QUESTION_MODAL, request_id))
    else:
        elements = [button("Answer…", ACTION_QUESTION_MODAL, request_id, style="primary")]
    blocks.append(actions("codex_question", elements))
    blocks.append(
        context(f"<@{prompt.started_by}> or a configured approver can answer this question.")
    )
    return blocks


def _question_body(question: Question) -> str:
    head = f"*{escape(short(question.header, 50))}* · " if question.header.strip() else ""
    lines = [head + escape(truncate(question.question, 1_500))]
    for label, description in question.options:
        detail = f": {escape(short(description, 150))}" if description.strip() else ""
        lines.append(f"• *{escape(short(label, 70))}*{detail}")
    if question.is_secret:
        lines.append("_The answer stays private: it is sent to Codex, not shown here._")
    return "\n".join(lines)


def question_modal(prompt: QuestionPrompt, *, request_id: str) -> dict[str, Any]:
    """The answer modal: for a one-click prompt, a text field for an answer of one's own;
    otherwise every question, each with its options and, where welcome, a text field.

    ``private_metadata`` is ``request_id``; read the answers back with
    :func:`bot.questions.view_answers`.
    """
    blocks: list[Block] = []
    for index, question in enumerate(prompt.questions):
        label = short(question.header or question.question, 150) or f"Question {index + 1}"
        if question.options and not prompt.buttons:
            options = [
                Option(
                    text=PlainTextObject(text=short(name, 75)),
                    value=str(number),
                    description=PlainTextObject(text=short(detail, 75)) if detail else None,
                )
                for number, (name, detail) in enumerate(question.options[:MODAL_OPTIONS])
            ]
            choice: Block = InputBlock(
                block_id=f"q{index}_{CHOICE}",
                label=PlainTextObject(text=label),
                hint=PlainTextObject(text=short(question.question, 150)),
                element=RadioButtonsElement(action_id=CHOICE, options=options),
                optional=question.is_other,
            ).to_dict()
            blocks.append(choice)
        if question.free_text:
            own_words = question.options and not prompt.buttons
            text: Block = InputBlock(
                block_id=f"q{index}_{TEXT}",
                label=PlainTextObject(text="…or in your own words" if own_words else label),
                hint=PlainTextObject(text=short(question.question, 150)),
                element=PlainTextInputElement(action_id=TEXT, multiline=True),
                optional=bool(own_words),
            ).to_dict()
            blocks.append(text)
    return {
        "type": "modal",
        "callback_id": QUESTION_MODAL,
        "title": {"type": "plain_text", "text": "Answer Codex"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": request_id,
        "blocks": blocks,
    }


def question_outcome(
    prompt: QuestionPrompt, answers: Mapping[str, Sequence[str]], *, user: str
) -> str:
    """The line that replaces a question's buttons once someone answered: who, and what
    (a secret answer is not shown)."""
    shown = []
    for question in prompt.questions:
        given = [str(a) for a in answers.get(question.id, [])]
        if question.is_secret:
            value = "_(private)_"
        elif given:
            value = " / ".join(f"*{escape(short(a, 300))}*" for a in given)
        else:
            value = "_(no answer)_"
        if len(prompt.questions) == 1:
            return f"✅ <@{user}> answered {value}."
        name = question.header.strip() or short(question.question, 60)
        shown.append(f"{escape(name)}: {value}")
    return f"✅ <@{user}> answered: " + "; ".join(shown) + "."


def question_expired(why: str | None = None) -> str:
    """The line that replaces a question's buttons when nobody answered in time."""
    return f"⌛ This question expired{f': {why}' if why else ''}. Codex went on without an answer."


def request_refused(method: str, params: Mapping[str, Any]) -> str | None:
    """The thread's line about a request from Codex the bot cannot put to anyone in Slack
    and refused; None for requests that expect no person (a tool call, the time…)."""
    if method == "mcpServer/elicitation/request":
        server = escape(short(str(params.get("serverName") or "an MCP server"), 80))
        message = str(params.get("message") or "").strip()
        asked = f" (“{escape(short(message, 300))}”)" if message else ""
        return (
            f"🚫 The MCP server `{server}` asked for input{asked}, which can't be given "
            "from Slack: declined, and Codex went on without it."
        )
    if method == "item/tool/requestUserInput":
        return "❓ Codex asked a question the bot couldn't show here; it went on without an answer."
    if method == "item/permissions/requestApproval":
        return "🚫 Codex asked for extra permissions, which can't be granted from Slack: refused."
    if method in _NO_PERSON:
        return None
    shown = escape(short(method, 80))
    return f"🚫 Codex asked for something the bot can't show in Slack (`{shown}`): refused."


_NO_PERSON: Final = frozenset(
    {
        "item/tool/call",
        "currentTime/read",
        "account/chatgptAuthTokens/refresh",
        "attestation/generate",
        "item/commandExecution/requestApproval",
        "item/fileChange/requestApproval",
    }
)
"""Requests answered without asking anyone in the thread (or asked by an approval prompt)."""

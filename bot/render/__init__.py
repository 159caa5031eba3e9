"""What the bot shows in Slack: replies, status lines, tool activity, recaps, approvals.

Pure functions, by what they render:

- :mod:`~bot.render.replies`: reply messages (a ``markdown`` block and its buttons, a mrkdwn
  ``text`` fallback) and the status lines that end them;
- :mod:`~bot.render.activity`: the compact tool-activity line of a reply in progress;
- :mod:`~bot.render.recaps`: recap pages;
- :mod:`~bot.render.approvals`: approval prompts and their outcomes;
- :mod:`~bot.render.questions`: Codex's questions to the user, their answer modal and outcome;
- :mod:`~bot.render.mentions`: the other way round, a mention's text as the agent reads it.

Blocks are built with ``slack_sdk.models.blocks`` (which checks Slack's field limits) in
:mod:`~bot.render._blocks` and handed out as plain dicts. Nothing here does I/O, so every
function is tested by value. Slack's own ids (``<@U123>``) are left for Slack to render.
Action ids of the buttons built here are constants, so listeners can match on them. Callers
use the names below through the package: ``from bot import render; render.reply_blocks(...)``.
"""

from bot.mrkdwn import Chunk, join_displayed, to_mrkdwn
from bot.render._blocks import SECTION_CHARS
from bot.render.activity import activity
from bot.render.approvals import (
    ACTION_APPROVAL,
    APPROVAL_BUTTONS,
    ASKED_AGAIN,
    ApprovalPrompt,
    approval_blocks,
    approval_outcome,
    approval_text,
    decision_label,
)
from bot.render.mentions import clean_mention
from bot.render.questions import (
    ACTION_QUESTION,
    ACTION_QUESTION_MODAL,
    QUESTION_BUTTONS,
    QUESTION_MODAL,
    Question,
    QuestionPrompt,
    question_blocks,
    question_expired,
    question_modal,
    question_outcome,
    question_text,
    request_refused,
)
from bot.render.recaps import (
    ACTION_RECAP_OLDER,
    ACTION_RECAP_SHARE,
    RecapTurn,
    gist,
    recap_blocks,
    recap_turn,
)
from bot.render.replies import (
    ACTION_RERUN,
    ACTION_STOP,
    MARKDOWN_BLOCK_CHARS,
    MESSAGE_CHARS,
    REDIS_DOWN,
    TEXT_CHARS,
    THINKING,
    codex_unreachable,
    connection_lost,
    failed,
    fallback_text,
    interrupted,
    markdown_block,
    queued,
    reply_blocks,
    split_message,
    status_line,
    turn_lost,
)

__all__ = [
    "ACTION_APPROVAL",
    "ACTION_QUESTION",
    "ACTION_QUESTION_MODAL",
    "ACTION_RECAP_OLDER",
    "ACTION_RECAP_SHARE",
    "ACTION_RERUN",
    "ACTION_STOP",
    "APPROVAL_BUTTONS",
    "ASKED_AGAIN",
    "MARKDOWN_BLOCK_CHARS",
    "MESSAGE_CHARS",
    "QUESTION_BUTTONS",
    "QUESTION_MODAL",
    "REDIS_DOWN",
    "SECTION_CHARS",
    "TEXT_CHARS",
    "THINKING",
    "ApprovalPrompt",
    "Chunk",
    "Question",
    "QuestionPrompt",
    "RecapTurn",
    "activity",
    "approval_blocks",
    "approval_outcome",
    "approval_text",
    "clean_mention",
    "codex_unreachable",
    "connection_lost",
    "decision_label",
    "failed",
    "fallback_text",
    "gist",
    "interrupted",
    "join_displayed",
    "markdown_block",
    "question_blocks",
    "question_expired",
    "question_modal",
    "question_outcome",
    "question_text",
    "queued",
    "recap_blocks",
    "recap_turn",
    "reply_blocks",
    "request_refused",
    "split_message",
    "status_line",
    "to_mrkdwn",
    "turn_lost",
]

"""Moved to :mod:`playground.slack.api`: the Slack emulator ships with the project, so the
playground, the tests and the benchmarks run one emulator. Kept so existing imports work."""

from playground.slack.api import (
    DEFAULT_SCOPES,
    FaultBody,
    FaultMode,
    FaultWindow,
    RateLimit,
    SlackFake,
    app_mention_event,
    block_actions_payload,
    event_callback,
    form_body,
    interactive_body,
    message_action_payload,
    message_event,
    next_ts,
    sign_request,
    slash_command_form,
    view_submission_payload,
)

__all__ = [
    "DEFAULT_SCOPES",
    "FaultBody",
    "FaultMode",
    "FaultWindow",
    "RateLimit",
    "SlackFake",
    "app_mention_event",
    "block_actions_payload",
    "event_callback",
    "form_body",
    "interactive_body",
    "message_action_payload",
    "message_event",
    "next_ts",
    "sign_request",
    "slash_command_form",
    "view_submission_payload",
]

"""Moved to :mod:`playground.slack.payloads` (see :mod:`tests.fakes.slack_api`)."""

from playground.slack.payloads import (
    APP_ID,
    TEAM_DOMAIN,
    TEAM_ID,
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
    "APP_ID",
    "TEAM_DOMAIN",
    "TEAM_ID",
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

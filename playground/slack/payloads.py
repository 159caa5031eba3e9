"""What Slack sends to an app, built for tests: signed requests, events, commands, clicks.

Shapes follow Slack's documented payloads, trimmed to the fields apps read. Every builder
returns plain dicts (JSON-able); :func:`form_body` and :func:`interactive_body` encode them the
way Slack's HTTP requests do, and :func:`sign_request` adds Slack's v0 signature headers.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

__all__ = [
    "APP_ID",
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

TEAM_ID: Final = "T0001"
TEAM_DOMAIN: Final = "fake-team"
APP_ID: Final = "A0001"

_ids = itertools.count(1)
_ts_lock = threading.Lock()
_last_ts = 0


def next_ts() -> str:
    """A message ``ts`` like Slack's (``"1732540000.000100"``): unique and increasing."""
    global _last_ts
    with _ts_lock:
        _last_ts = max(_last_ts + 1, int(time.time() * 1_000_000))
        seconds, micros = divmod(_last_ts, 1_000_000)
    return f"{seconds}.{micros:06d}"


def sign_request(
    body: bytes, signing_secret: str, timestamp: int, *, retry_num: int | None = None
) -> dict[str, str]:
    """Slack's request headers for ``body``: ``X-Slack-Signature`` = ``v0=`` + HMAC-SHA256 of
    ``v0:{timestamp}:{body}`` keyed by the signing secret, and ``X-Slack-Request-Timestamp``;
    plus ``X-Slack-Retry-Num`` when the request is a retry."""
    basestring = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), basestring, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def form_body(fields: Mapping[str, str]) -> bytes:
    """``application/x-www-form-urlencoded`` bytes, as Slack sends slash commands."""
    return urlencode(dict(fields)).encode()


def interactive_body(payload: Mapping[str, Any]) -> bytes:
    """An interactivity request body: the JSON payload in a ``payload`` form field."""
    return form_body({"payload": json.dumps(payload)})


def event_callback(
    event: Mapping[str, Any],
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    """The Events API envelope around one event."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):010d}",
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {"team_id": team_id, "user_id": "U0BOT0001", "is_bot": True, "enterprise_id": None}
        ],
        "is_ext_shared_channel": False,
    }


def app_mention_event(
    text: str,
    *,
    user: str,
    channel: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str = TEAM_ID,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An ``app_mention`` event (``text`` should contain ``<@BOT>``), with the ``files``
    (file objects, e.g. from ``SlackFake.add_file``) the user attached, if any."""
    event = _message_like("app_mention", text, user, channel, ts, thread_ts, team)
    if files is not None:
        event["files"] = [dict(file) for file in files]
    return event


def message_event(
    text: str,
    *,
    user: str,
    channel: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str = TEAM_ID,
    channel_type: str = "channel",
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``message`` event of a user's post: no subtype, or with ``files`` Slack's
    ``file_share`` subtype, the files, and ``upload`` (apps that skip subtyped messages
    would miss posts with attachments)."""
    event = _message_like("message", text, user, channel, ts, thread_ts, team)
    event["channel_type"] = channel_type
    if files is not None:
        event["subtype"] = "file_share"
        event["files"] = [dict(file) for file in files]
        event["upload"] = True
    return event


def _message_like(
    kind: str,
    text: str,
    user: str,
    channel: str,
    ts: str | None,
    thread_ts: str | None,
    team: str,
) -> dict[str, Any]:
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": team,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def slash_command_form(
    command: str,
    text: str,
    *,
    user_id: str,
    channel_id: str,
    response_url: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
) -> dict[str, str]:
    """The form fields of a slash command request (also the Socket Mode payload)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }


def block_actions_payload(
    *,
    action_id: str,
    value: str,
    user: str,
    channel: str,
    message_ts: str,
    thread_ts: str | None = None,
    response_url: str | None = None,
    block_id: str = "block",
    is_ephemeral: bool = False,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A button click on a message (``block_actions``)."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": ""}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user, team_id),
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "general"},
        "state": {"values": {}},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": next_ts(),
            }
        ],
    }
    if not is_ephemeral:
        payload["message"] = message
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def message_action_payload(
    callback_id: str,
    *,
    user: str,
    channel: str,
    message_ts: str,
    text: str = "",
    thread_ts: str | None = None,
    response_url: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A message shortcut (``message_action``) used on the message ``message_ts``."""
    message: dict[str, Any] = {"type": "message", "user": user, "ts": message_ts, "text": text}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "message_action",
        "token": "legacy-verification-token",
        "action_ts": next_ts(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user, team_id),
        "channel": {"id": channel, "name": "general"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": _trigger_id(),
        "message_ts": message_ts,
        "message": message,
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def view_submission_payload(
    callback_id: str,
    values: Mapping[str, Mapping[str, str]],
    *,
    user: str,
    private_metadata: str = "",
    view_id: str | None = None,
    team_id: str = TEAM_ID,
    states: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A modal's submission; ``values`` maps block_id -> action_id -> typed text, ``states``
    block_id -> action_id -> an element's whole state as Slack reports it (e.g. radio
    buttons' ``{"type": "radio_buttons", "selected_option": {...}}``)."""
    state: dict[str, dict[str, Any]] = {
        block_id: {
            action_id: {"type": "plain_text_input", "value": text}
            for action_id, text in actions.items()
        }
        for block_id, actions in values.items()
    }
    for block_id, elements in (states or {}).items():
        state.setdefault(block_id, {}).update({k: dict(v) for k, v in elements.items()})
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user, team_id),
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id or f"V{next(_ids):010d}",
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": state},
            "hash": f"{int(time.time())}.abc",
            "title": {"type": "plain_text", "text": "Codex"},
            "blocks": [],
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def _user(user: str, team_id: str) -> dict[str, str]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id}


def _trigger_id() -> str:
    return f"{next(_ids)}.{int(time.time())}.fake{next(_ids):08x}"

"""The state of the fake Slack workspace and its Web API methods, without any I/O.

:class:`Workspace` holds messages (every version of each), ephemeral messages, modals, users
and user groups, and answers the methods the bot uses, as Slack documents them: each handler
takes the call's parameters and returns the response body, or raises
:class:`SlackApiErrorResponse` for an ``ok:false`` answer. :mod:`tests.fakes.slack_api` serves it
over HTTP and adds authentication, rate limits and recording.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.slack_payloads import APP_ID, TEAM_DOMAIN, next_ts
from tests.fakes.slack_rules import content_error

__all__ = ["Handler", "SlackApiErrorResponse", "Workspace"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


class SlackApiErrorResponse(Exception):
    """Raised by a handler to answer ``{"ok": false, "error": ...}`` (plus Slack's extras)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body = {"ok": False, "error": error, **extra}


class Workspace:
    """One Slack workspace as the bot sees it. Channels are any well-formed id unless
    ``channels`` lists them; users are synthesised for any well-formed id."""

    def __init__(
        self, *, team_id: str, bot_user_id: str, bot_id: str, channels: Iterable[str] | None
    ) -> None:
        self.team_id, self.bot_user_id, self.bot_id = team_id, bot_user_id, bot_id
        self.channels = None if channels is None else set(channels)
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.methods: dict[str, Handler] = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "conversations.replies": self._replies,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_users,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
        }

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Seed a user's message (for ``conversations.replies`` and permalinks)."""
        message = {"type": "message", "user": user, "text": text, "ts": ts or next_ts()}
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        self._store(channel, message)
        return message

    def add_usergroup(self, usergroup: str, users: Iterable[str]) -> None:
        """Make ``usergroups.users.list`` answer ``users`` for ``usergroup``."""
        self.usergroups[usergroup] = list(users)

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The channel's messages as they are now (after edits, without deleted ones), by ts."""
        found = sorted(self._messages.get(channel, {}).values(), key=lambda m: _ts_key(m["ts"]))
        if thread_ts is not None:
            found = [m for m in found if m.get("thread_ts", m["ts"]) == thread_ts]
        return [dict(m) for m in found]

    def history(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every version a message had, from its post to its last edit."""
        return [dict(v) for v in self._versions.get((channel, ts), [])]

    def _channel(self, params: dict[str, Any], key: str = "channel") -> str:
        channel = params.get(key)
        if isinstance(channel, str) and _USER_ID.match(channel):
            return f"D{channel[1:]}"  # posting to a user id opens the DM with them
        if not isinstance(channel, str) or not _CHANNEL_ID.match(channel):
            raise SlackApiErrorResponse("channel_not_found")
        if self.channels is not None and channel not in self.channels:
            raise SlackApiErrorResponse("channel_not_found")
        return channel

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        _check_content(params)
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": params.get("text") or "",
            "ts": next_ts(),
        }
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self._store(channel, message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _own_message(self, params: dict[str, Any], action: str) -> tuple[str, dict[str, Any]]:
        channel = self._channel(params)
        message = self._messages.get(channel, {}).get(str(params.get("ts", "")))
        if message is None:
            raise SlackApiErrorResponse("message_not_found")
        if message.get("user") != self.bot_user_id:
            raise SlackApiErrorResponse(f"cant_{action}_message")
        return channel, message

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._own_message(params, "update")
        _check_content(params, update=True)
        # Slack keeps what an update leaves out: blocks, attachments and text alike.
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": next_ts()}
        self._versions[(channel, message["ts"])].append(dict(message))
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": dict(message),
        }

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._own_message(params, "delete")
        del self._messages[channel][message["ts"]]
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if not isinstance(params.get("user"), str) or not _USER_ID.match(params["user"]):
            raise SlackApiErrorResponse("user_not_found")
        _check_content(params)
        ts = next_ts()
        self.ephemerals.append({**params, "channel": channel, "message_ts": ts})
        return {"ok": True, "message_ts": ts}

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(params.get("message_ts", ""))
        if not re.match(r"^\d+\.\d{6}$", ts):
            raise SlackApiErrorResponse("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        parent = self._messages.get(channel, {}).get(ts, {}).get("thread_ts")
        if parent and parent != ts:
            link += f"?thread_ts={parent}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(params.get("ts", ""))
        if ts not in self._messages.get(channel, {}):
            raise SlackApiErrorResponse("thread_not_found")
        return {"ok": True, "messages": self.messages(channel, thread_ts=ts), "has_more": False}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user", ""))
        if user in self.users:
            return {"ok": True, "user": self.users[user]}
        if not _USER_ID.match(user):
            raise SlackApiErrorResponse("user_not_found")
        name = "codex" if user == self.bot_user_id else f"user-{user.lower()}"
        profile = {"display_name": name, "real_name": name.title()}
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": self.team_id,
                "name": name,
                "real_name": profile["real_name"],
                "is_bot": user == self.bot_user_id,
                "tz": "UTC",
                "profile": profile,
            },
        }

    def _usergroup_users(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if group not in self.usergroups:
            raise SlackApiErrorResponse("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise SlackApiErrorResponse("invalid_trigger_id")
        view = _checked_view(params)
        view_id = f"V{next(self._ids):09d}"
        stored = {**view, "id": view_id, "team_id": self.team_id, "hash": uuid.uuid4().hex}
        self.views[view_id] = stored
        return {"ok": True, "view": dict(stored)}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = str(params.get("view_id", ""))
        if view_id not in self.views:
            raise SlackApiErrorResponse("not_found")
        if params.get("hash") and params["hash"] != self.views[view_id]["hash"]:
            raise SlackApiErrorResponse("hash_conflict")
        view = _checked_view(params)
        self.views[view_id] = {
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "hash": uuid.uuid4().hex,
        }
        return {"ok": True, "view": dict(self.views[view_id])}

    def _reaction_target(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._messages.get(channel, {}).get(str(params.get("timestamp", "")))
        if message is None:
            raise SlackApiErrorResponse("message_not_found")
        return message

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        reactions = self._reaction_target(params).setdefault("reactions", [])
        if params.get("name") in reactions:
            raise SlackApiErrorResponse("already_reacted")
        reactions.append(params.get("name"))
        return {"ok": True}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        reactions = self._reaction_target(params).get("reactions", [])
        if params.get("name") not in reactions:
            raise SlackApiErrorResponse("no_reaction")
        reactions.remove(params.get("name"))
        return {"ok": True}

    def _store(self, channel: str, message: dict[str, Any]) -> None:
        self._messages.setdefault(channel, {})[message["ts"]] = message
        self._versions[(channel, message["ts"])] = [dict(message)]
        parent = self._messages[channel].get(message.get("thread_ts", ""))
        if parent is not None and parent is not message:
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = message["ts"]


def _check_content(params: dict[str, Any], *, update: bool = False) -> None:
    error = content_error(params, update=update)
    if error is not None:
        raise SlackApiErrorResponse(**{"error": error.pop("error"), **error})


def _checked_view(params: dict[str, Any]) -> dict[str, Any]:
    view = params.get("view")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise SlackApiErrorResponse("invalid_arguments")
    title = view.get("title", {}).get("text", "") if isinstance(view.get("title"), dict) else ""
    if view["type"] == "modal" and not 0 < len(title) <= 24:
        raise SlackApiErrorResponse(
            "invalid_arguments",
            response_metadata={
                "messages": [
                    "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
                ]
            },
        )
    return view


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)

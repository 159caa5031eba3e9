"""What the page shows, kept current: the workspace, and what Slack's client shows beside it.

The emulator holds the workspace (messages after every edit, streams, thread statuses,
files); :class:`Feed` follows it through the emulator's record of Web API calls and
``response_url`` posts, and tells every open page what changed, as JSON events:

- ``snapshot``: everything, sent first to each page that connects;
- ``message`` (a message as it is now) and ``deleted``;
- ``status``: a thread's status line (``assistant.threads.setStatus``, cleared by the bot's
  next post there);
- ``ephemeral`` and ``ephemeral_deleted``: messages only one person sees, from
  ``chat.postEphemeral`` and from ``response_url`` posts, which Slack's client applies as
  Slack documents (``replace_original``, ``delete_original``, ``in_channel``);
- ``view`` and ``view_closed``: modals from ``views.open``/``views.push``/``views.update``,
  shown to whoever's action gave the ``trigger_id``;
- ``call``: one line of the Web API log (method, ok or error).

The page's own actions register the ``response_url`` they hand the bot and the
``trigger_id`` they send (:meth:`Feed.response_url`, :meth:`Feed.trigger`), so the answers
reach the right person in the right place.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from playground.slack.api import SlackFake
from playground.slack.payloads import next_ts
from playground.slack.workspace import SlackApiErrorResponse

__all__ = ["Event", "Feed", "ResponseTarget"]

Event = dict[str, Any]

_MESSAGE_METHODS: Final = frozenset(
    {
        "chat.postMessage",
        "chat.update",
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
    }
)
_LOG_LINES: Final = 300


@dataclass(frozen=True)
class ResponseTarget:
    """Where the answers to one ``response_url`` go: to ``user``, in ``channel`` (and the
    thread ``thread_ts``); ``replace_original`` replaces the ephemeral message
    ``ephemeral_id`` or the app's message ``message_ts`` that was clicked."""

    user: str
    channel: str
    thread_ts: str | None
    ephemeral_id: str | None = None
    message_ts: str | None = None


class Feed:
    """Follows one emulator for the pages; ``info`` is the static part of the snapshot
    (workspace, people, channels, commands, the model's label)."""

    def __init__(self, slack: SlackFake, info: Mapping[str, Any]) -> None:
        self.slack = slack
        self.info = dict(info)
        self.ephemerals: dict[str, Event] = {}
        self.views: dict[str, Event] = {}
        """Open modals by view id: ``{"user": ..., "view": ...}``."""
        self._triggers: dict[str, str] = {}
        self._targets: dict[str, ResponseTarget] = {}
        self._responses_seen: dict[str, int] = {}
        self._calls_seen = 0
        self._log: deque[Event] = deque(maxlen=_LOG_LINES)
        self._pages: set[asyncio.Queue[Event | None]] = set()
        slack.add_listener(self.sync)

    # -- what the page's actions register ---------------------------------------------------

    def response_url(self, target: ResponseTarget) -> str:
        """A new ``response_url`` whose posts reach ``target``."""
        url = self.slack.response_url()
        self._targets[_url_key(url)] = target
        return url

    def trigger(self, trigger_id: str, user: str) -> None:
        """A ``trigger_id`` sent for ``user``'s action: a modal opened with it is theirs."""
        self._triggers[trigger_id] = user

    def say_privately(
        self,
        user: str,
        channel: str,
        thread_ts: str | None,
        text: str,
        *,
        blocks: list[Any] | None = None,
        from_slackbot: bool = False,
    ) -> Event:
        """Show ``user`` an ephemeral message (``from_slackbot``: Slack's own, as when a
        command fails)."""
        ephemeral: Event = {
            "id": next_ts(),
            "user": user,
            "channel": channel,
            "thread_ts": thread_ts,
            "text": text,
            "blocks": blocks,
            "from_slackbot": from_slackbot,
        }
        self.ephemerals[ephemeral["id"]] = ephemeral
        self._publish({"type": "ephemeral", "ephemeral": ephemeral})
        return ephemeral

    def dismiss(self, ephemeral_id: str) -> None:
        if self.ephemerals.pop(ephemeral_id, None) is not None:
            self._publish({"type": "ephemeral_deleted", "id": ephemeral_id})

    def close_view(self, view_id: str) -> None:
        if self.views.pop(view_id, None) is not None:
            self._publish({"type": "view_closed", "view_id": view_id})

    def show_view(self, user: str, view: Mapping[str, Any]) -> None:
        """Open (or replace) a modal for ``user``."""
        self.views[str(view["id"])] = {"user": user, "view": dict(view)}
        self._publish({"type": "view", "user": user, "view": dict(view)})

    def note(self, text: str) -> None:
        """A line in the page's log that is not a Web API call (e.g. the bot refused one)."""
        self._add_log({"method": text, "ok": False, "error": None, "at": time.time()})

    # -- pages ------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Event | None]:
        """A page's queue of events, starting with a snapshot; None means the feed closed."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        queue.put_nowait(self.snapshot())
        self._pages.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._pages.discard(queue)

    def close(self) -> None:
        """Tell every page's stream to end (the playground is stopping)."""
        for queue in self._pages:
            queue.put_nowait(None)
        self._pages.clear()

    def snapshot(self) -> Event:
        self.sync()
        workspace = self.slack.workspace
        channels = [str(channel["id"]) for channel in self.info.get("channels", [])]
        messages = {channel: workspace.messages(channel) for channel in channels}
        statuses = [
            self._status(channel, str(message["ts"]))
            for channel in channels
            for message in messages[channel]
            if message.get("thread_ts", message["ts"]) == message["ts"]
        ]
        return {
            "type": "snapshot",
            "info": self.info,
            "messages": messages,
            "statuses": [status for status in statuses if status["status"]],
            "ephemerals": list(self.ephemerals.values()),
            "views": [{"user": v["user"], "view": v["view"]} for v in self.views.values()],
            "log": list(self._log),
        }

    # -- following the emulator -------------------------------------------------------------

    def sync(self) -> None:
        """Apply what the emulator recorded since the last look (its listener)."""
        calls = self.slack.calls
        while self._calls_seen < len(calls):
            call = calls[self._calls_seen]
            if call["status"] is None:
                break  # a call still being served: looked at again once it is answered
            self._calls_seen += 1
            self._apply_call(call)
        for key, posts in self.slack.response_posts.items():
            seen = self._responses_seen.get(key, 0)
            self._responses_seen[key] = len(posts)
            for body in posts[seen:]:
                self._apply_response(key, body)

    def message_changed(self, channel: str, ts: str) -> None:
        """Tell the pages how the message ``ts`` is now, its thread's parent (reply count)
        and the thread's status (a bot post clears it)."""
        messages = {str(m["ts"]): m for m in self.slack.workspace.messages(channel)}
        message = messages.get(ts)
        if message is None:
            self._publish({"type": "deleted", "channel": channel, "ts": ts})
            return
        self._publish({"type": "message", "channel": channel, "message": message})
        thread_ts = str(message.get("thread_ts") or ts)
        if thread_ts != ts and thread_ts in messages:
            self._publish({"type": "message", "channel": channel, "message": messages[thread_ts]})
        self._publish(self._status(channel, thread_ts))

    def _apply_call(self, call: Mapping[str, Any]) -> None:
        method = str(call["method"])
        params: Mapping[str, Any] = call["params"]
        response: Mapping[str, Any] = call["response"]
        self._add_log(
            {
                "method": method,
                "ok": bool(response.get("ok")),
                "error": response.get("error"),
                "at": time.time(),
            }
        )
        if not response.get("ok"):
            return
        if method in _MESSAGE_METHODS:
            self.message_changed(str(response["channel"]), str(response["ts"]))
        elif method == "chat.delete":
            channel, ts = str(response["channel"]), str(response["ts"])
            self._publish({"type": "deleted", "channel": channel, "ts": ts})
        elif method == "assistant.threads.setStatus":
            self._publish(self._status(str(params["channel_id"]), str(params["thread_ts"])))
        elif method == "chat.postEphemeral":
            self._ephemeral_from(params, str(response["message_ts"]))
        elif method in ("views.open", "views.push"):
            user = self._triggers.get(str(params.get("trigger_id")), "")
            self.show_view(user, response["view"])
        elif method == "views.update":
            view = response["view"]
            shown = self.views.get(str(view["id"]))
            self.show_view(shown["user"] if shown else "", view)
        elif method in ("reactions.add", "reactions.remove"):
            self.message_changed(str(params["channel"]), str(params["timestamp"]))
        elif method == "files.completeUploadExternal":
            ids = {str(file["id"]) for file in response.get("files", [])}
            for upload in self.slack.workspace.uploads:
                if upload["file_id"] in ids and upload["message_ts"]:
                    self.message_changed(str(upload["channel"]), str(upload["message_ts"]))

    def _ephemeral_from(self, params: Mapping[str, Any], message_ts: str) -> None:
        ephemeral: Event = {
            "id": message_ts,
            "user": str(params["user"]),
            "channel": str(params["channel"]),
            "thread_ts": params.get("thread_ts") or None,
            "text": params.get("text") or "",
            "blocks": params.get("blocks"),
            "from_slackbot": False,
        }
        self.ephemerals[message_ts] = ephemeral
        self._publish({"type": "ephemeral", "ephemeral": ephemeral})

    def _apply_response(self, key: str, body: Mapping[str, Any]) -> None:
        """A ``response_url`` post, applied as Slack's client shows it."""
        target = self._targets.get(key)
        if target is None:
            return  # a URL the page never handed out
        original = self.ephemerals.get(target.ephemeral_id or "")
        if body.get("delete_original"):
            if original is not None:
                self.dismiss(original["id"])
            elif target.message_ts is not None:
                self._call("chat.delete", channel=target.channel, ts=target.message_ts)
        elif body.get("replace_original") and original is not None:
            original.update(text=body.get("text") or "", blocks=body.get("blocks"))
            self._publish({"type": "ephemeral", "ephemeral": original})
        elif body.get("replace_original") and target.message_ts is not None:
            self._call(
                "chat.update",
                channel=target.channel,
                ts=target.message_ts,
                text=body.get("text") or "",
                blocks=body.get("blocks") or [],
            )
        elif body.get("response_type") == "in_channel":
            self._call(
                "chat.postMessage",
                channel=target.channel,
                thread_ts=target.thread_ts,
                text=body.get("text") or "",
                blocks=body.get("blocks"),
            )
        else:
            self.say_privately(
                target.user,
                target.channel,
                target.thread_ts,
                str(body.get("text") or ""),
                blocks=body.get("blocks"),
            )

    def _call(self, method: str, **params: Any) -> None:
        """A change Slack makes on the app's behalf for a ``response_url`` post."""
        try:
            answer = self.slack.workspace.methods[method](
                {k: v for k, v in params.items() if v is not None}
            )
        except SlackApiErrorResponse as error:
            self.note(f"response_url: {method} refused ({error.body['error']})")
            return
        self.message_changed(str(answer["channel"]), str(answer["ts"]))

    def _status(self, channel: str, thread_ts: str) -> Event:
        workspace = self.slack.workspace
        history = workspace.status_history(channel, thread_ts)
        status = workspace.status(channel, thread_ts)
        loading = history[-1].get("loading_messages", []) if history and status else []
        return {
            "type": "status",
            "channel": channel,
            "thread_ts": thread_ts,
            "status": status,
            "loading_messages": loading,
        }

    def _add_log(self, line: Event) -> None:
        self._log.append(line)
        self._publish({"type": "call", **line})

    def _publish(self, event: Event) -> None:
        for queue in self._pages:
            queue.put_nowait(event)


def _url_key(url: str) -> str:
    """The id a ``response_url`` ends in, as the emulator files its posts."""
    return url.rstrip("/").rsplit("/", 1)[-1]

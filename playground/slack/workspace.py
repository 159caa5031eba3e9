"""The state of the fake Slack workspace and its Web API methods, without any I/O.

:class:`Workspace` holds messages (every version of each), ephemeral messages, modals, users
and user groups, streamed messages and assistant thread statuses, and answers the methods the
bot uses, as Slack documents them: each handler takes the call's parameters and returns the
response body, or raises :class:`SlackApiErrorResponse` for an ``ok:false`` answer.
:mod:`playground.slack.api` serves it over HTTP and adds authentication, rate limits and
recording.

Streams (``chat.startStream``/``appendStream``/``stopStream``) are bot messages marked
``streaming`` while open; Slack closes them by itself after a while (by age, or idleness), and
the recipient can press Stop. Those closings depend on time, so they are applied lazily, on
the workspace's clock, whenever a message is touched or read.

Files are kept with their bytes: seeded ones (:meth:`Workspace.add_file`, shown in messages
through ``add_message(files=...)``) and the bot's uploads, which follow Slack's external
upload flow: ``files.getUploadURLExternal`` hands out an upload URL and a file id, the bytes
are posted there (served by :mod:`playground.slack.api`, which calls
:meth:`Workspace.receive_upload`), and ``files.completeUploadExternal`` turns the upload into a
file, shared into a channel or thread as a bot message carrying it when asked. Every step is
recorded in :attr:`Workspace.uploads`. File URLs point at :attr:`Workspace.file_host`.
"""

from __future__ import annotations

import itertools
import json
import mimetypes
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from playground.slack.payloads import APP_ID, TEAM_DOMAIN, next_ts
from playground.slack.rules import MAX_STREAM_MARKDOWN, chunks_ok, content_error

__all__ = ["Handler", "SlackApiErrorResponse", "Workspace"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")

_FILETYPES: dict[str, tuple[str, str]] = {
    "txt": ("text", "Plain Text"),
    "log": ("text", "Plain Text"),
    "md": ("markdown", "Markdown (raw)"),
    "py": ("python", "Python"),
    "json": ("json", "JSON"),
    "diff": ("diff", "Diff"),
    "patch": ("diff", "Diff"),
    "csv": ("csv", "CSV"),
    "png": ("png", "PNG"),
    "jpg": ("jpg", "JPEG"),
    "jpeg": ("jpg", "JPEG"),
    "gif": ("gif", "GIF"),
    "pdf": ("pdf", "PDF"),
    "zip": ("zip", "Zip"),
}
"""Slack's ``filetype`` and ``pretty_type`` for common extensions; others are ``binary``."""


class SlackApiErrorResponse(Exception):
    """Raised by a handler to answer ``{"ok": false, "error": ...}`` (plus Slack's extras)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body = {"ok": False, "error": error, **extra}


@dataclass
class _Stream:
    """Slack's side of one streamed message: when it opened and last grew, and whether it is
    still open (and if the recipient closed it, which Slack keeps answering with an error)."""

    started: float
    active: float
    open: bool = True
    stopped_by_user: bool = False


class Workspace:
    """One Slack workspace as the bot sees it. Channels are any well-formed id unless
    ``channels`` lists them; users are synthesised for any well-formed id.

    ``streaming_error`` (e.g. ``feature_not_enabled``) makes every ``chat.startStream`` fail,
    as in a workspace without the feature; a stream closes by itself once it has been open more
    than ``stream_max_seconds`` or had no start/append for ``stream_idle_seconds`` of ``clock``.
    """

    def __init__(
        self,
        *,
        team_id: str,
        bot_user_id: str,
        bot_id: str,
        channels: Iterable[str] | None,
        clock: Callable[[], float] = time.monotonic,
        streaming_error: str | None = None,
        stream_max_seconds: float = 300.0,
        stream_idle_seconds: float = 30.0,
    ) -> None:
        self.team_id, self.bot_user_id, self.bot_id = team_id, bot_user_id, bot_id
        self.channels = None if channels is None else set(channels)
        self.streaming_error = streaming_error
        self.stream_max_seconds, self.stream_idle_seconds = stream_max_seconds, stream_idle_seconds
        self._clock = clock
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.file_host = ""
        """``http://host:port`` of the server that serves file URLs (set when it starts)."""
        self.uploads: list[dict[str, Any]] = []
        """Every upload the bot began, oldest first: ``file_id``, ``filename``, ``length`` (as
        announced), ``alt_txt``, ``snippet_type``, ``upload_url``; ``content`` (the bytes
        posted, None until then); once completed (``completed``), ``title``, ``channel`` (the
        first it was shared to, or None), ``channels``, ``thread_ts``, ``initial_comment`` and
        ``message_ts`` (the share's message in ``channel``)."""
        self._files: dict[str, dict[str, Any]] = {}
        self._contents: dict[str, bytes] = {}
        self._upload_keys: dict[str, str] = {}
        self.methods: dict[str, Handler] = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "assistant.threads.setStatus": self._set_status,
            "conversations.replies": self._replies,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_users,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        files: Iterable[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Seed a user's message (for ``conversations.replies`` and permalinks); ``files``
        (file objects from :meth:`add_file`) are attached as Slack shows an upload's message."""
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts or next_ts(),
        }
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        if files is not None:
            message["files"] = [dict(file) for file in files]
            message["upload"] = True
        self._store(channel, message)
        return message

    def add_file(
        self,
        name: str,
        content: bytes,
        *,
        mimetype: str,
        filetype: str | None = None,
        user: str = "U0001",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Store a file a user uploaded; returns its file object as Slack puts it in message
        events and ``conversations.replies`` (``filetype`` defaults to the extension's)."""
        if not self.file_host:
            raise RuntimeError("file URLs need the fake's server: add files once it runs")
        file_id = self._file_id()
        self._contents[file_id] = bytes(content)
        file = self._file_object(
            file_id, name, title or name, mimetype, filetype, len(content), user
        )
        self._files[file_id] = file
        return dict(file)

    def file_content(self, file_id: str) -> tuple[dict[str, Any], bytes] | None:
        """A finished file's object and bytes (None if no such file, or not completed yet)."""
        file = self._files.get(file_id)
        return None if file is None else (dict(file), self._contents[file_id])

    def receive_upload(self, key: str, content: bytes) -> bool:
        """Take the bytes posted to an upload URL; False when the URL is unknown or its
        upload already completed. Until completion, posting again replaces the bytes."""
        file_id = self._upload_keys.get(key)
        upload = self._upload(file_id) if file_id is not None else None
        if upload is None or upload["completed"]:
            return False
        upload["content"] = bytes(content)
        return True

    def add_usergroup(self, usergroup: str, users: Iterable[str]) -> None:
        """Make ``usergroups.users.list`` answer ``users`` for ``usergroup``."""
        self.usergroups[usergroup] = list(users)

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The channel's messages as they are now (after edits, without deleted ones), by ts."""
        self._expire_streams()
        found = sorted(self._messages.get(channel, {}).values(), key=lambda m: _ts_key(m["ts"]))
        if thread_ts is not None:
            found = [m for m in found if m.get("thread_ts", m["ts"]) == thread_ts]
        return [dict(m) for m in found]

    def history(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every version a message had, from its post to its last edit."""
        self._expire_streams()
        return [dict(v) for v in self._versions.get((channel, ts), [])]

    def status(self, channel: str, thread_ts: str) -> str:
        """The assistant status shown in a thread now ("" when none)."""
        changes = self._statuses.get((channel, thread_ts))
        return str(changes[-1]["status"]) if changes else ""

    def status_history(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Every status a thread was given, and every clearing by a bot post, oldest first."""
        return [dict(change) for change in self._statuses.get((channel, thread_ts), [])]

    def stop_stream_by_user(self, channel: str, ts: str) -> None:
        """The recipient pressed Stop on an open stream: it closes, and Slack answers every
        later append or stop with ``stopped_by_user``."""
        self._expire_streams()
        stream = self._streams.get((channel, ts))
        if stream is None or not stream.open:
            raise ValueError(f"{channel} {ts} is not an open stream")
        stream.open, stream.stopped_by_user = False, True
        self._close(channel, self._messages[channel][ts], "stream_stopped_by_user")

    def _channel(self, params: dict[str, Any], key: str = "channel") -> str:
        channel = params.get(key)
        if isinstance(channel, str) and _USER_ID.match(channel):
            return f"D{channel[1:]}"  # posting to a user id opens the DM with them
        if not isinstance(channel, str) or not _CHANNEL_ID.match(channel):
            raise SlackApiErrorResponse("channel_not_found")
        if self.channels is not None and channel not in self.channels:
            raise SlackApiErrorResponse("channel_not_found")
        return channel

    def _bot_message(self, text: str, thread_ts: Any) -> dict[str, Any]:
        """A new message from the bot, as Slack shapes it (not stored yet)."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": text,
            "ts": next_ts(),
        }
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
        return message

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        _check_content(params)
        message = self._bot_message(params.get("text") or "", params.get("thread_ts"))
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        self._store(channel, message)
        self._clear_status(channel, message, "chat.postMessage")
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _own_message(self, params: dict[str, Any], action: str) -> tuple[str, dict[str, Any]]:
        channel = self._channel(params)
        message = self._messages.get(channel, {}).get(str(params.get("ts", "")))
        if message is None:
            raise SlackApiErrorResponse("message_not_found")
        if message.get("user") != self.bot_user_id:
            raise SlackApiErrorResponse(f"cant_{action}_message")
        self._expire_streams()
        stream = self._streams.get((channel, message["ts"]))
        if stream is not None and stream.open:
            # Slack will not edit a message it is still streaming, nor delete it.
            raise SlackApiErrorResponse(
                "streaming_state_conflict" if action == "update" else f"cant_{action}_message"
            )
        return channel, message

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._own_message(params, "update")
        _check_content(params, update=True)
        # Slack keeps what an update leaves out: blocks, attachments and text alike.
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": next_ts()}
        self._record(channel, message)
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

    # -- streams and assistant statuses ------------------------------------------------------

    def _start_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.streaming_error is not None:
            raise SlackApiErrorResponse(self.streaming_error)
        channel = self._channel(params)
        thread_ts = params.get("thread_ts")
        if not isinstance(thread_ts, str) or not thread_ts:
            raise SlackApiErrorResponse("invalid_arguments")
        if not channel.startswith("D"):
            # Outside a DM, Slack streams to one person, who must be named.
            if not params.get("recipient_user_id"):
                raise SlackApiErrorResponse("missing_recipient_user_id")
            if not params.get("recipient_team_id"):
                raise SlackApiErrorResponse("missing_recipient_team_id")
        markdown, chunks = _stream_content(params)
        message = self._bot_message("", thread_ts)
        message["streaming"] = True
        if params.get("recipient_user_id"):
            message["recipient_user_id"] = params["recipient_user_id"]
        _grow(message, _grown_markdown(message, markdown), chunks)
        self._store(channel, message)
        self._clear_status(channel, message, "chat.startStream")
        now = self._clock()
        self._streams[(channel, message["ts"])] = _Stream(started=now, active=now)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _append_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message, stream = self._open_stream(params)
        markdown, chunks = _stream_content(params)
        grown = _grown_markdown(message, markdown)
        stream.active = self._clock()
        if markdown or chunks:
            _grow(message, grown, chunks)
            self._record(channel, message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _stop_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message, stream = self._open_stream(params)
        markdown, chunks = _stream_content(params)
        grown = _grown_markdown(message, markdown)
        extra = params.get("blocks")
        if extra is not None:
            if not isinstance(extra, list):
                raise SlackApiErrorResponse("invalid_blocks_format")
            # The final blocks go below the streamed markdown; Block Kit limits apply to both.
            _check_content({"blocks": _markdown_blocks(grown) + extra}, update=True)
        _grow(message, grown, chunks, extra)
        if params.get("metadata") is not None:
            message["metadata"] = params["metadata"]
        stream.open = False
        self._close(channel, message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _open_stream(self, params: dict[str, Any]) -> tuple[str, dict[str, Any], _Stream]:
        """The stream an append or stop names, if Slack would still take content for it."""
        channel = self._channel(params)
        ts = str(params.get("ts", ""))
        self._expire_streams()
        message = self._messages.get(channel, {}).get(ts)
        if message is None:
            raise SlackApiErrorResponse("message_not_found")
        stream = self._streams.get((channel, ts))
        if stream is not None and stream.stopped_by_user:
            raise SlackApiErrorResponse("stopped_by_user")
        if stream is None or not stream.open:
            raise SlackApiErrorResponse("message_not_in_streaming_state")
        return channel, message, stream

    def _expire_streams(self) -> None:
        """Close the streams Slack has closed by now: open too long, or idle too long."""
        now = self._clock()
        for (channel, ts), stream in self._streams.items():
            too_old = now - stream.started > self.stream_max_seconds
            too_idle = now - stream.active >= self.stream_idle_seconds
            if stream.open and (too_old or too_idle):
                stream.open = False
                self._close(channel, self._messages[channel][ts], "stream_expired")

    def _close(self, channel: str, message: dict[str, Any], marker: str | None = None) -> None:
        """End a stream's message as it is (``marker`` says why, when not the app's stop)."""
        message["streaming"] = False
        if marker is not None:
            message[marker] = True
        self._record(channel, message)

    def _set_status(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, "channel_id")
        thread_ts, status = params.get("thread_ts"), params.get("status")
        loading = params.get("loading_messages")
        if not isinstance(thread_ts, str) or not thread_ts or not isinstance(status, str):
            raise SlackApiErrorResponse("invalid_arguments")
        if loading is not None and not (
            isinstance(loading, list) and all(isinstance(line, str) for line in loading)
        ):
            raise SlackApiErrorResponse("invalid_arguments")
        change: dict[str, Any] = {
            "status": status,
            "by": "assistant.threads.setStatus",
            "at": self._clock(),
        }
        if loading:
            change["loading_messages"] = list(loading)
        self._statuses.setdefault((channel, thread_ts), []).append(change)
        return {"ok": True}

    def _clear_status(self, channel: str, message: dict[str, Any], method: str) -> None:
        """A bot reply in a thread clears the status Slack showed there, as Slack does."""
        thread_ts = message.get("thread_ts")
        if thread_ts and self.status(channel, thread_ts):
            change = {"status": "", "by": method, "at": self._clock(), "ts": message["ts"]}
            self._statuses[(channel, thread_ts)].append(change)

    # -- files -------------------------------------------------------------------------------

    def _file_id(self) -> str:
        return f"F{next(self._ids):09d}"

    def _file_object(
        self,
        file_id: str,
        name: str,
        title: str,
        mimetype: str,
        filetype: str | None,
        size: int,
        user: str,
    ) -> dict[str, Any]:
        """A file object with the fields Slack gives apps; URLs lead to :attr:`file_host`."""
        extension = name.rpartition(".")[2].lower() if "." in name else ""
        known = _FILETYPES.get(extension, ("binary", "Binary"))
        if filetype is not None and filetype != known[0]:
            pretty = (p for kind, p in _FILETYPES.values() if kind == filetype)
            known = (filetype, next(pretty, filetype.upper()))
        path = f"{self.file_host}/files-pri/{self.team_id}-{file_id}"
        now = int(time.time())
        return {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": title,
            "mimetype": mimetype,
            "filetype": known[0],
            "pretty_type": known[1],
            "user": user,
            "user_team": self.team_id,
            "editable": False,
            "size": size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{path}/{quote(name)}",
            "url_private_download": f"{path}/download/{quote(name)}",
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{user}/{file_id}/{quote(name)}",
        }

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file", ""))
        file = self._files.get(file_id)
        if file is None:
            raise SlackApiErrorResponse("file_not_found")
        return {
            "ok": True,
            "file": {**file, **self._shares(file_id)},
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _shares(self, file_id: str) -> dict[str, Any]:
        """Where a file was shared, as ``files.info`` tells it: channel ids by kind, and each
        share's message ``ts`` (and ``thread_ts`` for one in a thread), public or private."""
        places: dict[str, list[str]] = {"channels": [], "groups": [], "ims": []}
        shares: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for channel, messages in self._messages.items():
            for message in messages.values():
                if not any(f.get("id") == file_id for f in message.get("files", [])):
                    continue
                kind = {"C": "channels", "G": "groups", "D": "ims"}.get(channel[:1], "channels")
                if channel not in places[kind]:
                    places[kind].append(channel)
                share: dict[str, Any] = {"ts": message["ts"]}
                if message.get("thread_ts", message["ts"]) != message["ts"]:
                    share["thread_ts"] = message["thread_ts"]
                visibility = "public" if kind == "channels" else "private"
                shares.setdefault(visibility, {}).setdefault(channel, []).append(share)
        return {**places, "shares": shares, "is_public": bool(places["channels"])}

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = params.get("filename"), params.get("length")
        if not isinstance(filename, str) or not filename:
            raise SlackApiErrorResponse("invalid_arguments")
        try:
            size = int(str(length))
        except ValueError:
            raise SlackApiErrorResponse("invalid_arguments") from None
        if size < 1:
            raise SlackApiErrorResponse("invalid_arguments")
        file_id, key = self._file_id(), uuid.uuid4().hex
        self._upload_keys[key] = file_id
        upload_url = f"{self.file_host}/upload/v1/{key}"
        self.uploads.append(
            {
                "file_id": file_id,
                "filename": filename,
                "length": size,
                "alt_txt": params.get("alt_txt"),
                "snippet_type": params.get("snippet_type"),
                "upload_url": upload_url,
                "content": None,
                "completed": False,
                "title": None,
                "channel": None,
                "channels": [],
                "thread_ts": None,
                "initial_comment": None,
                "message_ts": None,
            }
        )
        return {"ok": True, "upload_url": upload_url, "file_id": file_id}

    def _upload(self, file_id: str) -> dict[str, Any] | None:
        return next((u for u in self.uploads if u["file_id"] == file_id), None)

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """Finish uploads (``files`` = ``[{"id", "title"?}]``, a JSON string or a list) and
        share them when ``channel_id`` or ``channels`` says where. Everything is checked
        before anything changes: an id that was never handed out, whose bytes never arrived,
        or that was completed already is ``file_not_found`` (Slack's nearest documented
        error); ``thread_ts`` with other than one channel is ``invalid_arguments``."""
        entries = params.get("files")
        if isinstance(entries, str):
            try:
                entries = json.loads(entries)
            except ValueError:
                raise SlackApiErrorResponse("invalid_arguments") from None
        if (
            not isinstance(entries, list)
            or not entries
            or not all(isinstance(e, dict) and isinstance(e.get("id"), str) for e in entries)
        ):
            raise SlackApiErrorResponse("invalid_arguments")
        uploads = [self._upload(entry["id"]) for entry in entries]
        ready = [u for u in uploads if u is not None and not u["completed"]]
        if len(ready) != len(entries) or any(u["content"] is None for u in ready):
            raise SlackApiErrorResponse("file_not_found")
        if params.get("channel_id"):
            targets = [self._channel(params, "channel_id")]
        else:
            named = str(params.get("channels") or "")
            targets = [self._channel({"channel": c}) for c in named.split(",") if c]
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None and len(targets) != 1:
            raise SlackApiErrorResponse("invalid_arguments")
        comment = params.get("initial_comment")
        if comment is not None:
            _check_content({"text": comment}, update=True)  # may be empty, not too long
        files = []
        for entry, upload in zip(entries, ready, strict=True):
            title = entry.get("title") or upload["filename"]
            file = self._uploaded_file(upload, str(title))
            upload.update(
                completed=True,
                title=title,
                channel=targets[0] if targets else None,
                channels=list(targets),
                thread_ts=thread_ts,
                initial_comment=comment,
            )
            file["is_public"] = any(channel.startswith("C") for channel in targets)
            files.append(file)
        for channel in targets:
            message = self._bot_message(str(comment or ""), thread_ts)
            message["files"] = [dict(file) for file in files]
            message["upload"] = True
            self._store(channel, message)
            self._clear_status(channel, message, "files.completeUploadExternal")
            for upload in ready:
                if upload["message_ts"] is None:
                    upload["message_ts"] = message["ts"]
        return {"ok": True, "files": [dict(file) for file in files]}

    def _uploaded_file(self, upload: dict[str, Any], title: str) -> dict[str, Any]:
        """Turn a finished upload into a file of the bot's: its bytes and file object."""
        name, snippet = str(upload["filename"]), upload["snippet_type"]
        content: bytes = upload["content"]
        mimetype = "text/plain" if snippet else mimetypes.guess_type(name)[0]
        file = self._file_object(
            upload["file_id"],
            name,
            title,
            mimetype or "application/octet-stream",
            str(snippet) if snippet else None,
            len(content),
            self.bot_user_id,
        )
        if upload["alt_txt"]:
            file["alt_txt"] = upload["alt_txt"]
        self._files[file["id"]] = file
        self._contents[file["id"]] = content
        return file

    # -- other methods -----------------------------------------------------------------------

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

    def _record(self, channel: str, message: dict[str, Any]) -> None:
        """Keep the message as it is now as its newest version."""
        self._versions[(channel, message["ts"])].append(dict(message))


def _stream_content(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The markdown one streaming call adds (``markdown_text``, then its ``markdown_text``
    chunks) and its task and plan chunks, in order."""
    markdown = params.get("markdown_text")
    if markdown is not None and not isinstance(markdown, str):
        raise SlackApiErrorResponse("invalid_arguments")
    chunks = params.get("chunks")
    if chunks is None:
        chunks = []
    if not chunks_ok(chunks):
        raise SlackApiErrorResponse("invalid_chunks")
    text = (markdown or "") + "".join(c["text"] for c in chunks if c["type"] == "markdown_text")
    return text, [c for c in chunks if c["type"] != "markdown_text"]


def _grown_markdown(message: dict[str, Any], markdown: str) -> str:
    """The stream's markdown with ``markdown`` added, if Slack allows that much."""
    grown = str(message["text"]) + markdown
    if len(grown) > MAX_STREAM_MARKDOWN:
        raise SlackApiErrorResponse("msg_too_long")
    return grown


def _grow(
    message: dict[str, Any],
    markdown: str,
    chunks: list[dict[str, Any]],
    final_blocks: list[Any] | None = None,
) -> None:
    """Show ``markdown`` (a markdown block, then any final blocks) and apply task and plan
    chunks: tasks by id, the latest update winning, in the order they first appeared."""
    message["text"] = markdown
    blocks = _markdown_blocks(markdown) + (final_blocks or [])
    if blocks:
        message["blocks"] = blocks
    tasks = [dict(task) for task in message.get("tasks", [])]  # versions keep their own list
    for chunk in chunks:
        if chunk["type"] == "plan_update":
            message["plan_title"] = chunk["title"]
            continue
        task = {k: chunk[k] for k in ("id", "title", "status", "details", "output") if k in chunk}
        index = next((i for i, t in enumerate(tasks) if t["id"] == task["id"]), len(tasks))
        tasks[index : index + 1] = [task]
    if tasks:
        message["tasks"] = tasks


def _markdown_blocks(markdown: str) -> list[Any]:
    return [{"type": "markdown", "text": markdown}] if markdown else []


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

"""What a person does on the page, done as in Slack: the workspace changes, the bot is told.

- typing a message: it is posted in the channel or thread, and the bot gets the ``message``
  event Slack sends for it (and ``app_mention`` when it names the bot);
- typing ``/steer …`` or ``/recap …``: the bot gets the slash command's form with a fresh
  ``response_url``, whose answers the person sees where they typed it; any other command
  gets Slack's own "not a valid command";
- a button (on a message or an ephemeral one), a message shortcut, a modal's submission:
  the bot gets the interactivity payload, with the message as it is;
- Stop on a streaming reply: what Slack's stop control does, the stream closes and the bot
  hears ``stopped_by_user`` at its next call.

Every request carries Slack's signature (:mod:`playground.wire`). Each method answers a
small JSON-able result for the page: ``{"ok": true}`` or ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playground.directory import COMMANDS, encode
from playground.feed import Event, Feed, ResponseTarget
from playground.slack.api import SlackFake
from playground.slack.payloads import (
    app_mention_event,
    block_actions_payload,
    message_action_payload,
    message_event,
    slash_command_form,
    view_submission_payload,
)
from playground.wire import BotAnswer, BotLink

__all__ = ["Actions", "PageError"]


class PageError(Exception):
    """An action the page asked for that cannot be done (its message says why)."""


class Actions:
    """The page's actions on one workspace (``slack``) and its bot (``link``)."""

    def __init__(self, slack: SlackFake, feed: Feed, link: BotLink) -> None:
        self.slack = slack
        self.feed = feed
        self.link = link
        self._commands = {command.command for command in COMMANDS}

    async def post(self, user: str, channel: str, text: str, thread_ts: str | None) -> Event:
        """What ``user`` typed in ``channel`` (or its thread ``thread_ts``)."""
        text = text.strip()
        if not text:
            raise PageError("nothing to send")
        if text.startswith("/"):
            return await self._command(user, channel, thread_ts, text)
        encoded = encode(text, bot_user_id=self.slack.bot_user_id)
        message = self.slack.add_message(channel, encoded, user=user, thread_ts=thread_ts)
        ts = str(message["ts"])
        self.feed.message_changed(channel, ts)
        fields: dict[str, Any] = {"user": user, "channel": channel, "ts": ts}
        if thread_ts is not None:
            fields["thread_ts"] = thread_ts
        # Slack sends both for a mention in a channel the app is in; the bot dedupes them.
        if f"<@{self.slack.bot_user_id}>" in encoded:
            self._told(await self.link.event(app_mention_event(encoded, **fields)), "app_mention")
        self._told(await self.link.event(message_event(encoded, **fields)), "message")
        return {"ok": True, "ts": ts}

    async def _command(self, user: str, channel: str, thread_ts: str | None, text: str) -> Event:
        command, _, rest = text.partition(" ")
        if command not in self._commands:
            self.feed.say_privately(
                user,
                channel,
                thread_ts,
                f"`{command}` is not a valid command. In Slack, you can type `/` to see "
                "the commands you can use.",
                from_slackbot=True,
            )
            return {"ok": True}
        # The answers appear where the command was typed (Slack sends no thread in the form).
        url = self.feed.response_url(ResponseTarget(user, channel, thread_ts))
        form = slash_command_form(
            command, rest.strip(), user_id=user, channel_id=channel, response_url=url
        )
        self.feed.trigger(form["trigger_id"], user)
        answer = await self.link.command(form)
        if answer.status != 200:
            self.feed.say_privately(
                user,
                channel,
                thread_ts,
                f"`{command}` failed with the error “dispatch_failed”",
                from_slackbot=True,
            )
        elif answer.json().get("text") or answer.json().get("blocks"):
            # An answer in the acknowledgement itself, which Slack shows like a response.
            body = answer.json()
            self.feed.say_privately(
                user, channel, thread_ts, str(body.get("text", "")), blocks=body.get("blocks")
            )
        return {"ok": True}

    async def click(
        self,
        user: str,
        channel: str,
        *,
        action_id: str,
        value: str,
        block_id: str,
        message_ts: str | None = None,
        ephemeral_id: str | None = None,
    ) -> Event:
        """``user`` pressed a button on the message ``message_ts`` or the ephemeral message
        ``ephemeral_id``."""
        if ephemeral_id is not None:
            ephemeral = self.feed.ephemerals.get(ephemeral_id)
            if ephemeral is None or ephemeral["user"] != user:
                raise PageError("that message is gone")
            thread_ts = ephemeral["thread_ts"]
            url = self.feed.response_url(
                ResponseTarget(user, channel, thread_ts, ephemeral_id=ephemeral_id)
            )
            payload = block_actions_payload(
                action_id=action_id,
                value=value,
                user=user,
                channel=channel,
                message_ts=ephemeral_id,
                response_url=url,
                block_id=block_id,
                is_ephemeral=True,
            )
            if thread_ts:
                payload["container"]["thread_ts"] = thread_ts
        else:
            message = self._message(channel, message_ts)
            thread_ts = message.get("thread_ts")
            url = self.feed.response_url(
                ResponseTarget(user, channel, thread_ts, message_ts=str(message["ts"]))
            )
            payload = block_actions_payload(
                action_id=action_id,
                value=value,
                user=user,
                channel=channel,
                message_ts=str(message["ts"]),
                thread_ts=thread_ts,
                response_url=url,
                block_id=block_id,
            )
            payload["message"] = message  # Slack sends the message as it is
        self.feed.trigger(str(payload["trigger_id"]), user)
        self._told(await self.link.interaction(payload), "block_actions")
        return {"ok": True}

    async def shortcut(self, user: str, channel: str, message_ts: str, callback_id: str) -> Event:
        """``user`` chose a message shortcut on the message ``message_ts``."""
        message = self._message(channel, message_ts)
        thread_ts = message.get("thread_ts")
        url = self.feed.response_url(ResponseTarget(user, channel, thread_ts or message_ts))
        payload = message_action_payload(
            callback_id,
            user=user,
            channel=channel,
            message_ts=message_ts,
            text=str(message.get("text", "")),
            thread_ts=thread_ts,
            response_url=url,
        )
        payload["message"] = message
        self.feed.trigger(str(payload["trigger_id"]), user)
        self._told(await self.link.interaction(payload), "message_action")
        return {"ok": True}

    async def submit_view(
        self, user: str, view_id: str, states: Mapping[str, Mapping[str, Mapping[str, Any]]]
    ) -> Event:
        """``user`` submitted the modal ``view_id`` with its inputs' ``states``. The bot's
        answer decides what happens to the modal: errors shown on it, replaced, or closed."""
        shown = self.feed.views.get(view_id)
        if shown is None or shown["user"] != user:
            raise PageError("that modal is closed")
        view = shown["view"]
        payload = view_submission_payload(
            str(view.get("callback_id", "")),
            {},
            user=user,
            private_metadata=str(view.get("private_metadata", "")),
            view_id=view_id,
            states=states,
        )
        for key in ("title", "blocks", "hash", "submit", "close"):
            if key in view:
                payload["view"][key] = view[key]
        self.feed.trigger(str(payload["trigger_id"]), user)
        answer = await self.link.interaction(payload)
        if answer.status != 200:
            self.feed.note(f"view_submission: the bot answered HTTP {answer.status}")
            return {"ok": False, "error": "The app did not respond. Try again."}
        action = answer.json()
        kind = action.get("response_action")
        if kind == "errors":
            return {"ok": False, "errors": action.get("errors", {})}
        if kind == "update" and isinstance(action.get("view"), dict):
            self.feed.show_view(user, {**action["view"], "id": view_id})
        elif kind == "push" and isinstance(action.get("view"), dict):
            self.feed.show_view(user, {**action["view"], "id": f"{view_id}-pushed"})
        elif kind == "clear":
            for other, open_view in list(self.feed.views.items()):
                if open_view["user"] == user:
                    self.feed.close_view(other)
        else:
            self.feed.close_view(view_id)
        return {"ok": True}

    def close_view(self, user: str, view_id: str) -> Event:
        """``user`` cancelled the modal (the app asked for no ``view_closed`` event)."""
        shown = self.feed.views.get(view_id)
        if shown is not None and shown["user"] == user:
            self.feed.close_view(view_id)
        return {"ok": True}

    def dismiss(self, user: str, ephemeral_id: str) -> Event:
        """``user`` dismissed one of their ephemeral messages."""
        ephemeral = self.feed.ephemerals.get(ephemeral_id)
        if ephemeral is not None and ephemeral["user"] == user:
            self.feed.dismiss(ephemeral_id)
        return {"ok": True}

    def stop_stream(self, user: str, channel: str, ts: str) -> Event:
        """``user`` pressed Stop on the streaming reply ``ts``."""
        message = self._message(channel, ts)
        if message.get("recipient_user_id") not in (None, user):
            raise PageError("only the person the reply streams to can stop it")
        try:
            self.slack.stop_stream_by_user(channel, ts)
        except ValueError:
            raise PageError("that reply is no longer streaming") from None
        self.feed.message_changed(channel, ts)
        return {"ok": True}

    def _message(self, channel: str, ts: str | None) -> dict[str, Any]:
        found = next((m for m in self.slack.messages(channel) if m["ts"] == ts), None)
        if found is None:
            raise PageError("that message is gone")
        return found

    def _told(self, answer: BotAnswer, what: str) -> None:
        if answer.status != 200:
            self.feed.note(f"{what}: the bot answered HTTP {answer.status}")

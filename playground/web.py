"""The page's HTTP side: the static page, its live feed, and its actions.

- ``GET /`` and ``/static/…``: the page (plain HTML, CSS and JavaScript, no build step);
- ``GET /api/events``: server-sent events, a snapshot then every change (:mod:`playground.feed`);
- ``GET /api/state``: the snapshot alone;
- ``POST /api/post``, ``/api/click``, ``/api/shortcut``, ``/api/view/submit``,
  ``/api/view/close``, ``/api/stream/stop``, ``/api/ephemeral/dismiss``: JSON in, JSON out,
  done by :class:`playground.actions.Actions`;
- ``GET /files/<id>/<name>``: a file's bytes (the page is signed in; Slack's file URLs need
  the bot's token).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from playground.actions import Actions, PageError
from playground.feed import Event, Feed

__all__ = ["build_app"]

STATIC: Final = Path(__file__).resolve().parent / "static"
KEEPALIVE_SECONDS: Final = 15.0
"""How often an idle event stream gets a comment line, so a dead page is noticed."""

Handler = Callable[[dict[str, Any]], Awaitable[Event] | Event]


def build_app(feed: Feed, actions: Actions) -> web.Application:
    """The page's aiohttp application."""
    app = web.Application(client_max_size=1024 * 1024)

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def state(_: web.Request) -> web.Response:
        return web.json_response(feed.snapshot())

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue = feed.subscribe()
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if event is None:
                    break
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
        except ConnectionResetError:
            pass  # the page went away
        finally:
            feed.unsubscribe(queue)
        return response

    async def file(request: web.Request) -> web.Response:
        found = actions.slack.workspace.file_content(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound()
        meta, content = found
        return web.Response(body=content, content_type=str(meta["mimetype"]))

    def action(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"ok": False, "error": "not JSON"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"ok": False, "error": "not an object"}, status=400)
            try:
                result = handler(body)
                if not isinstance(result, dict):
                    result = await result
            except PageError as error:
                return web.json_response({"ok": False, "error": str(error)})
            except (KeyError, TypeError, ValueError) as error:
                return web.json_response(
                    {"ok": False, "error": f"bad request: {error}"}, status=400
                )
            return web.json_response(result)

        return endpoint

    def post(body: dict[str, Any]) -> Awaitable[Event]:
        return actions.post(
            str(body["user"]), str(body["channel"]), str(body["text"]), body.get("thread_ts")
        )

    def click(body: dict[str, Any]) -> Awaitable[Event]:
        return actions.click(
            str(body["user"]),
            str(body["channel"]),
            action_id=str(body["action_id"]),
            value=str(body.get("value") or ""),
            block_id=str(body.get("block_id") or ""),
            message_ts=body.get("message_ts"),
            ephemeral_id=body.get("ephemeral_id"),
        )

    def shortcut(body: dict[str, Any]) -> Awaitable[Event]:
        return actions.shortcut(
            str(body["user"]), str(body["channel"]), str(body["ts"]), str(body["callback_id"])
        )

    def submit(body: dict[str, Any]) -> Awaitable[Event]:
        return actions.submit_view(str(body["user"]), str(body["view_id"]), body["states"])

    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/events", events)
    app.router.add_get("/files/{file_id}/{name}", file)
    app.router.add_post("/api/post", action(post))
    app.router.add_post("/api/click", action(click))
    app.router.add_post("/api/shortcut", action(shortcut))
    app.router.add_post("/api/view/submit", action(submit))
    app.router.add_post(
        "/api/view/close",
        action(lambda body: actions.close_view(str(body["user"]), str(body["view_id"]))),
    )
    app.router.add_post(
        "/api/stream/stop",
        action(
            lambda body: actions.stop_stream(
                str(body["user"]), str(body["channel"]), str(body["ts"])
            )
        ),
    )
    app.router.add_post(
        "/api/ephemeral/dismiss",
        action(lambda body: actions.dismiss(str(body["user"]), str(body["id"]))),
    )

    async def close_streams(_: web.Application) -> None:
        feed.close()  # open event streams end, so the server can stop at once

    app.on_shutdown.append(close_streams)
    return app

"""The Slack fake answers like Slack: through slack-sdk's own clients, with Slack's errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from playground.slack.api import (
    DEFAULT_SCOPES,
    FaultBody,
    RateLimit,
    SlackFake,
    app_mention_event,
    event_callback,
    message_event,
    sign_request,
)

BOT = "xoxb-test-bot"
APP = "xapp-test-app"


class StepClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[SlackFake]:
    async with SlackFake(bot_token=BOT, app_token=APP) as server:
        yield server


@pytest.fixture
def client(fake: SlackFake) -> AsyncWebClient:
    return AsyncWebClient(token=BOT, base_url=fake.url)


async def _error(call: Awaitable[object]) -> tuple[int, str, str | None]:
    with pytest.raises(SlackApiError) as info:
        await call
    response = info.value.response
    return response.status_code, response["error"], response.headers.get("Retry-After")


async def test_post_then_update_shows_the_latest_state(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """Posted messages get increasing ts values; messages() shows them after every edit."""
    first = await client.chat_postMessage(channel="C1", text="one", thread_ts="1.000001")
    second = await client.chat_postMessage(channel="C1", blocks=[{"type": "divider"}], text="x")
    assert first["ts"] < second["ts"]
    assert first["ts"].split(".")[1].isdigit()
    await client.chat_update(
        channel="C1", ts=first["ts"], text="one!", blocks=[{"type": "markdown", "text": "**one!**"}]
    )
    shown, _ = fake.messages("C1")
    assert (shown["text"], shown["blocks"], shown["thread_ts"]) == (
        "one!",
        [{"type": "markdown", "text": "**one!**"}],
        "1.000001",
    )
    assert [v["text"] for v in fake.history("C1", first["ts"])] == ["one", "one!"]
    assert [c["method"] for c in fake.calls] == ["chat.postMessage"] * 2 + ["chat.update"]
    assert fake.calls_for("chat.update")[0]["params"]["ts"] == first["ts"]
    await client.chat_delete(channel="C1", ts=second["ts"])
    assert [m["ts"] for m in fake.messages("C1")] == [first["ts"]]
    json.dumps(fake.calls)  # the record is plain JSON


async def test_tokens_are_checked_like_slack(fake: SlackFake) -> None:
    """No token, a wrong token, or the wrong kind of token is refused with Slack's errors."""
    assert (await _error(AsyncWebClient(base_url=fake.url).auth_test()))[1] == "not_authed"
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake.url)
    assert (await _error(wrong.auth_test()))[1] == "invalid_auth"
    app = AsyncWebClient(token=APP, base_url=fake.url)
    assert (await _error(app.chat_postMessage(channel="C1", text="x")))[1] == (
        "not_allowed_token_type"
    )
    bot = AsyncWebClient(token=BOT, base_url=fake.url)
    assert (await _error(bot.apps_connections_open(app_token=BOT)))[1] == "not_allowed_token_type"
    assert (await bot.auth_test())["user_id"] == fake.bot_user_id


async def test_content_limits_are_slacks(fake: SlackFake, client: AsyncWebClient) -> None:
    """Over-long text or blocks, unknown channels and messages get Slack's ok:false errors."""
    post = client.chat_postMessage
    cases: list[tuple[Callable[[], Awaitable[object]], str]] = [
        (lambda: post(channel="C1", text="x" * 40_001), "msg_too_long"),
        (
            lambda: post(
                channel="C1", text="x", blocks=[{"type": "markdown", "text": "y" * 12_001}]
            ),
            "invalid_blocks",
        ),
        (
            lambda: post(
                channel="C1",
                text="x",
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}],
            ),
            "invalid_blocks",
        ),
        (
            lambda: post(channel="C1", text="x", attachments=[{"fallback": "a"}] * 101),
            "too_many_attachments",
        ),
        (lambda: post(channel="not-a-channel", text="x"), "channel_not_found"),
        (lambda: client.chat_update(channel="C1", ts="1.000001", text="x"), "message_not_found"),
        (lambda: client.api_call("chat.postMessage", json={"channel": "C1"}), "no_text"),
    ]
    for call, error in cases:
        status, got, _ = await _error(call())
        assert (status, got) == (200, error)
    fake.add_message("C1", "a user's post", user="U1", ts="5.000001")
    assert (await _error(client.chat_update(channel="C1", ts="5.000001", text="x")))[1] == (
        "cant_update_message"
    )
    blocks_error = fake.calls_for("chat.postMessage")[1]["response"]
    assert "[json-pointer:/blocks]" in blocks_error["errors"][0]


async def test_rate_limits_answer_429_with_retry_after() -> None:
    """Past its bucket, chat.update answers 429 + Retry-After until the bucket refills."""
    clock = StepClock()
    limits = {"chat.update": RateLimit(per_minute=6, burst=2)}
    async with SlackFake(rate_limits=limits, clock=clock) as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        ts = (await client.chat_postMessage(channel="C1", text="x"))["ts"]
        for _ in range(2):
            await client.chat_update(channel="C1", ts=ts, text="y")
        assert await _error(client.chat_update(channel="C1", ts=ts, text="z")) == (
            429,
            "ratelimited",
            "10",
        )
        clock.now += 10
        await client.chat_update(channel="C1", ts=ts, text="z")
        assert [c["status"] for c in fake.calls_for("chat.update")] == [200, 200, 429, 200]
        assert fake.messages("C1")[0]["text"] == "z"


async def test_forced_failures_come_first_then_normal_service(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """fail_next forces 429s with the given Retry-After, or any ok:false error, then stops."""
    ts = (await client.chat_postMessage(channel="C1", text="x"))["ts"]
    fake.fail_next("chat.update", times=2, retry_after=3)
    fake.fail_next("chat.update", error="internal_error", status=500)
    assert await _error(client.chat_update(channel="C1", ts=ts, text="a")) == (
        429,
        "ratelimited",
        "3",
    )
    assert (await _error(client.chat_update(channel="C1", ts=ts, text="a")))[0] == 429
    assert (await _error(client.chat_update(channel="C1", ts=ts, text="a")))[:2] == (
        500,
        "internal_error",
    )
    await client.chat_update(channel="C1", ts=ts, text="a")
    assert fake.messages("C1")[0]["text"] == "a"


async def test_wait_for_wakes_on_a_call(fake: SlackFake, client: AsyncWebClient) -> None:
    """wait_for returns as soon as a call makes the predicate true, and times out otherwise."""
    waiter = asyncio.create_task(fake.wait_for(lambda: fake.calls_for("chat.postEphemeral")))
    await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    (call,) = await waiter
    assert call["params"]["user"] == "U1"
    assert fake.ephemerals[0]["text"] == "only you"
    with pytest.raises(TimeoutError, match="last calls"):
        await fake.wait_for(lambda: False, timeout=0.01)


async def test_socket_mode_hello_envelope_and_ack(fake: SlackFake) -> None:
    """apps.connections.open gives a ws:// URL; the fake says hello, delivers, records the ack."""
    app = AsyncWebClient(token=APP, base_url=fake.url)
    url = (await app.apps_connections_open(app_token=APP))["url"]
    assert url.startswith("ws://127.0.0.1:")
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello"
        payload = event_callback(app_mention_event("<@U0BOT0001> hi", user="U1", channel="C1"))
        sent = await fake.socket_send_envelope("events_api", payload, envelope_id="env-1")
        envelope = await ws.receive_json()
        assert (envelope["envelope_id"], envelope["type"], envelope["payload"]) == (
            sent,
            "events_api",
            payload,
        )
        await ws.send_json({"envelope_id": "env-1", "payload": {"text": "ok"}})
        assert await fake.wait_for_ack("env-1") == {"text": "ok"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url.replace("ws://", "http://")) as reused,
    ):
        assert reused.status == 401  # connection URLs are single use


async def test_response_url_posts_are_recorded(fake: SlackFake) -> None:
    """A response_url accepts JSON posts (five at most) and records them."""
    url = fake.response_url()
    async with aiohttp.ClientSession() as session:
        for i in range(6):
            async with session.post(url, json={"text": f"r{i}"}) as response:
                assert response.status == (200 if i < 5 else 404)
    assert [p["text"] for p in fake.responses(url)] == [f"r{i}" for i in range(5)]


async def test_lookups_views_and_threads(fake: SlackFake, client: AsyncWebClient) -> None:
    """users.info, usergroups, permalinks, thread replies and views behave like Slack's."""
    assert (await client.users_info(user="U1"))["user"]["id"] == "U1"
    assert (await _error(client.users_info(user="nobody")))[1] == "user_not_found"
    fake.add_usergroup("S1", ["U1", "U2"])
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    parent = fake.add_message("C1", "question", user="U1")
    reply = await client.chat_postMessage(channel="C1", text="answer", thread_ts=parent["ts"])
    link = (await client.chat_getPermalink(channel="C1", message_ts=reply["ts"]))["permalink"]
    assert link.endswith(f"?thread_ts={parent['ts']}&cid=C1")
    thread = await client.conversations_replies(channel="C1", ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == ["question", "answer"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Steer"}, "blocks": []}
    view = (await client.views_open(trigger_id="t1", view=modal))["view"]
    await client.views_update(view_id=view["id"], view={**modal, "blocks": [{"type": "divider"}]})
    assert fake.views[view["id"]]["blocks"] == [{"type": "divider"}]
    assert (await _error(client.views_open(trigger_id="", view=modal)))[1] == "invalid_trigger_id"


def test_sign_request_passes_slacks_own_verifier() -> None:
    """sign_request produces the v0 signature slack-sdk's SignatureVerifier accepts."""
    body = b'{"type":"event_callback"}'
    headers = sign_request(body, "secret-1", 1_732_540_000)
    verifier = SignatureVerifier("secret-1", clock=FixedClock(1_732_540_010.0))
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("secret-2", clock=FixedClock(1_732_540_010.0)).is_valid_request(
        body, headers
    )


class FixedClock(Clock):
    """slack-sdk's clock interface, stopped at one time."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


async def test_slack_sdks_socket_mode_client_connects_acks_and_reconnects(
    fake: SlackFake,
) -> None:
    """The aiohttp SocketModeClient Bolt uses acks envelopes, and reconnects on disconnect."""
    web_client = AsyncWebClient(token=BOT, base_url=fake.url)
    client = SocketModeClient(app_token=APP, web_client=web_client)

    async def ack(sdk: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        await sdk.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    client.socket_mode_request_listeners.append(ack)
    await client.connect()  # type: ignore[no-untyped-call]  # unannotated in slack-sdk
    try:
        event = event_callback(app_mention_event("hi", user="U1", channel="C1"))
        assert await fake.wait_for_ack(await fake.socket_send_envelope("events_api", event)) == {}
        await fake.socket_disconnect()
        await fake.wait_for(lambda: len(fake.calls_for("apps.connections.open")) == 2)
        assert await fake.wait_for_ack(await fake.socket_send_envelope("events_api", event)) == {}
    finally:
        await client.close()  # type: ignore[no-untyped-call]  # unannotated in slack-sdk


# -- fault windows: what slack-sdk's AsyncWebClient sees when Slack's edge fails ------------


@pytest.mark.parametrize(
    ("body", "status", "data"),
    [
        ("html", 500, {}),  # Slack's "Server Error" page: slack-sdk keeps no body at all
        ("json", 500, {"ok": False, "error": "internal_error"}),
        (
            "text",
            503,
            "upstream connect error or disconnect/reset before headers. "
            "reset reason: connection failure",
        ),
    ],
)
async def test_an_http500_window_fails_calls_and_changes_nothing(
    fake: SlackFake, client: AsyncWebClient, body: FaultBody, status: int, data: object
) -> None:
    """Within the window, covered methods raise SlackApiError with the 5xx status; the
    message stays as it was; other methods are served; after end() service is normal."""
    ts = (await client.chat_postMessage(channel="C1", text="before"))["ts"]
    window = fake.fault(("chat.update", "chat.postMessage"), status=status, body=body)
    for call in (
        client.chat_update(channel="C1", ts=ts, text="after"),
        client.chat_postMessage(channel="C1", text="another"),
    ):
        with pytest.raises(SlackApiError) as info:
            await call
        assert (info.value.response.status_code, info.value.response.data) == (status, data)
    assert (await client.auth_test())["ok"]  # not covered by the window
    assert [m["text"] for m in fake.messages("C1")] == ["before"]
    assert [(c["method"], c["status"], c["fault"]) for c in fake.faulted()] == [
        ("chat.update", status, "http500"),
        ("chat.postMessage", status, "http500"),
    ]
    assert window.calls == fake.faulted()
    window.end()
    await client.chat_update(channel="C1", ts=ts, text="after")
    assert fake.messages("C1")[0]["text"] == "after"
    assert len(fake.faulted()) == 2


async def test_a_text_body_breaks_reading_the_error_code(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """With a plain-text 5xx body, SlackApiError.response["error"] raises AttributeError
    (the data is a str), so error handling must look at status_code first."""
    with fake.fault("chat.update", body="text"), pytest.raises(SlackApiError) as info:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    with pytest.raises(AttributeError):
        info.value.response["error"]


async def test_a_window_lasts_its_seconds_on_the_fakes_clock() -> None:
    """fault(seconds=...) ends by itself once that much time passed on the fake's clock."""
    clock = StepClock()
    async with SlackFake(clock=clock) as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        async with fake.fault(None, seconds=5) as window:  # None: every method
            with pytest.raises(SlackApiError):
                await client.auth_test()
            clock.now += 4.9
            with pytest.raises(SlackApiError):
                await client.auth_test()
            clock.now += 0.1
            assert (await client.auth_test())["ok"]
            assert window.ended
        assert [c["fault"] for c in fake.faulted()] == ["http500", "http500"]


async def test_a_hang_window_holds_the_call_until_it_ends(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """A held call gets no answer while the window lasts; ending it serves the call normally."""
    ts = (await client.chat_postMessage(channel="C1", text="before"))["ts"]
    window = fake.fault("chat.update", "hang")
    update = asyncio.create_task(client.chat_update(channel="C1", ts=ts, text="after"))
    (held,) = await fake.wait_for(lambda: fake.faulted("chat.update"))
    assert (held["status"], held["fault"]) == (None, "hang")
    assert fake.messages("C1")[0]["text"] == "before"
    assert not update.done()
    window.end()
    assert (await update)["ok"]
    assert (held["status"], held["response"]["ok"]) == (200, True)
    assert fake.messages("C1")[0]["text"] == "after"


async def test_a_hang_a_client_gives_up_on_is_never_applied(fake: SlackFake) -> None:
    """slack-sdk's own session times out with the builtin TimeoutError; a session with a read
    timeout (as an app might pass) raises aiohttp's SocketTimeoutError, a ServerConnectionError
    (so slack-sdk's default handlers would retry it once) and a TimeoutError. Either way the
    held calls are abandoned, never served."""
    quick = AsyncWebClient(token=BOT, base_url=fake.url, timeout=0.2)  # type: ignore[arg-type]
    ts = (await quick.chat_postMessage(channel="C1", text="before"))["ts"]
    with fake.fault("chat.update", "hang"):
        with pytest.raises(TimeoutError) as total:
            await quick.chat_update(channel="C1", ts=ts, text="after")
        assert type(total.value) is TimeoutError
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=0.2)) as session:
            reading = AsyncWebClient(
                token=BOT, base_url=fake.url, session=session, retry_handlers=[]
            )
            with pytest.raises(aiohttp.SocketTimeoutError) as read:
                await reading.chat_update(channel="C1", ts=ts, text="after")
        assert isinstance(read.value, aiohttp.ServerConnectionError)
        assert isinstance(read.value, TimeoutError)
        await fake.wait_for(lambda: [c.get("abandoned") for c in fake.faulted()] == [True, True])
    assert fake.messages("C1")[0]["text"] == "before"
    assert [c["status"] for c in fake.faulted()] == [None, None]


async def test_a_drop_window_closes_connections_without_an_answer(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """A dropped call raises aiohttp's ServerDisconnectedError, after the one retry slack-sdk's
    default handlers make (two calls recorded); without retry handlers, after one call."""
    ts = (await client.chat_postMessage(channel="C1", text="before"))["ts"]
    no_retries = AsyncWebClient(token=BOT, base_url=fake.url, retry_handlers=[])
    with fake.fault("chat.update", "drop"):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.chat_update(channel="C1", ts=ts, text="after")
        assert len(fake.faulted("chat.update")) == 2
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await no_retries.chat_update(channel="C1", ts=ts, text="after")
        assert len(fake.faulted("chat.update")) == 3
    assert fake.messages("C1")[0]["text"] == "before"
    assert [(c["status"], c["fault"]) for c in fake.faulted()] == [(None, "drop")] * 3
    await no_retries.chat_update(channel="C1", ts=ts, text="after")
    assert fake.messages("C1")[0]["text"] == "after"


# -- AI streaming and assistant statuses ----------------------------------------------------

BUTTONS = {
    "type": "actions",
    "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Retry"}}],
}


def _stream_shape(message: dict[str, object]) -> tuple[object, ...]:
    return (message["text"], message.get("blocks"), message["streaming"])


async def test_a_stream_starts_grows_and_stops(fake: SlackFake, client: AsyncWebClient) -> None:
    """A stream is a bot reply whose text and markdown block grow with every append; stop
    adds its last markdown and puts the final blocks below it, and nothing can be added after."""
    parent = fake.add_message("D1", "question", user="U1")
    started = await client.chat_startStream(channel="D1", thread_ts=parent["ts"])
    ts = started["ts"]
    assert (started["channel"], fake.messages("D1")[1]["thread_ts"]) == ("D1", parent["ts"])
    shown = fake.messages("D1", thread_ts=parent["ts"])[1]
    assert (shown["user"], shown["bot_id"], shown["app_id"], shown["team"]) == (
        fake.bot_user_id,
        fake.bot_id,
        "A0001",
        fake.team_id,
    )
    assert _stream_shape(shown) == ("", None, True)  # no empty markdown block
    await client.chat_appendStream(channel="D1", ts=ts, markdown_text="Hel")
    await client.chat_appendStream(
        channel="D1", ts=ts, chunks=[{"type": "markdown_text", "text": "lo"}]
    )
    assert _stream_shape(fake.messages("D1")[1]) == (
        "Hello",
        [{"type": "markdown", "text": "Hello"}],
        True,
    )
    stopped = await client.chat_stopStream(
        channel="D1", ts=ts, markdown_text=" world", blocks=[BUTTONS]
    )
    final = fake.messages("D1")[1]
    assert _stream_shape(final) == (
        "Hello world",
        [{"type": "markdown", "text": "Hello world"}, BUTTONS],
        False,
    )
    assert (stopped["ts"], stopped["message"]) == (ts, final)
    assert [(v["text"], v["streaming"]) for v in fake.history("D1", ts)] == [
        ("", True),
        ("Hel", True),
        ("Hello", True),
        ("Hello world", False),
    ]
    for call in (
        client.chat_appendStream(channel="D1", ts=ts, markdown_text="more"),
        client.chat_stopStream(channel="D1", ts=ts),
    ):
        assert (await _error(call))[1] == "message_not_in_streaming_state"
    posted = (await client.chat_postMessage(channel="D1", text="plain"))["ts"]
    assert (await _error(client.chat_appendStream(channel="D1", ts=posted, markdown_text="x")))[
        1
    ] == "message_not_in_streaming_state"
    assert (await _error(client.chat_appendStream(channel="D1", ts="1.000001")))[1] == (
        "message_not_found"
    )
    assert fake.messages("D1")[1]["text"] == "Hello world"


async def test_a_stream_outside_a_dm_names_its_recipient(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """In a channel (C or G) Slack wants the recipient's user and team; in a DM it does not;
    a thread is always required."""
    start = client.chat_startStream
    assert (await _error(start(channel="C1", thread_ts="1.000001")))[1] == (
        "missing_recipient_user_id"
    )
    assert (await _error(start(channel="G1", thread_ts="1.000001", recipient_user_id="U1")))[
        1
    ] == "missing_recipient_team_id"
    assert (await _error(start(channel="D1", thread_ts="")))[1] == "invalid_arguments"
    assert fake.messages("C1") == fake.messages("G1") == fake.messages("D1") == []
    ts = (
        await start(
            channel="C1",
            thread_ts="1.000001",
            recipient_user_id="U1",
            recipient_team_id=fake.team_id,
            markdown_text="hi",
        )
    )["ts"]
    assert (fake.messages("C1")[0]["ts"], fake.messages("C1")[0]["recipient_user_id"]) == (
        ts,
        "U1",
    )
    assert (await start(channel="D1", thread_ts="1.000001"))["ok"]


async def test_a_streams_markdown_stops_at_12000_characters(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """Start, append and stop all answer msg_too_long past 12,000 characters of markdown, and
    then add nothing."""
    start = client.chat_startStream
    assert (await _error(start(channel="D1", thread_ts="1.000001", markdown_text="x" * 12_001)))[
        1
    ] == "msg_too_long"
    assert fake.messages("D1") == []
    ts = (await start(channel="D1", thread_ts="1.000001", markdown_text="x" * 11_999))["ts"]
    for call in (
        client.chat_appendStream(channel="D1", ts=ts, markdown_text="yy"),
        client.chat_appendStream(
            channel="D1", ts=ts, chunks=[{"type": "markdown_text", "text": "yy"}]
        ),
        client.chat_stopStream(channel="D1", ts=ts, markdown_text="yy"),
    ):
        assert (await _error(call))[1] == "msg_too_long"
    assert len(fake.messages("D1")[0]["text"]) == 11_999
    await client.chat_appendStream(channel="D1", ts=ts, markdown_text="y")
    shown = fake.messages("D1")[0]
    assert (len(shown["text"]), shown["streaming"]) == (12_000, True)


async def test_a_stream_expires_when_too_old_or_idle() -> None:
    """On the fake's clock a stream closes by itself after stream_idle_seconds without an
    append, or once open more than stream_max_seconds; it keeps its text, marked expired."""
    clock = StepClock()
    async with SlackFake(clock=clock) as fake:  # Slack's defaults: 300 s open, 30 s idle
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        ts = (await client.chat_startStream(channel="D1", thread_ts="1.000001"))["ts"]
        for _ in range(15):  # at 20 s steps the stream never idles, and reaches 300 s open
            clock.now += 20
            await client.chat_appendStream(channel="D1", ts=ts, markdown_text=".")
        clock.now += 0.1
        assert (await _error(client.chat_appendStream(channel="D1", ts=ts)))[1] == (
            "message_not_in_streaming_state"
        )
        old = fake.messages("D1")[0]
        assert (old["text"], old["streaming"], old["stream_expired"]) == ("." * 15, False, True)

        idle = (await client.chat_startStream(channel="D1", thread_ts="1.000001"))["ts"]
        clock.now += 29.9
        await client.chat_appendStream(channel="D1", ts=idle, markdown_text="a")
        clock.now += 29.9
        assert fake.messages("D1")[1]["streaming"] is True
        clock.now += 0.1
        shown = fake.messages("D1")[1]  # reading is enough to see it closed
        assert (shown["text"], shown["streaming"], shown.get("stream_expired")) == (
            "a",
            False,
            True,
        )
        assert fake.history("D1", idle)[-1]["stream_expired"] is True
        assert (await _error(client.chat_stopStream(channel="D1", ts=idle)))[1] == (
            "message_not_in_streaming_state"
        )


async def test_stream_limits_are_constructor_options() -> None:
    """stream_max_seconds and stream_idle_seconds replace Slack's 300 and 30 seconds."""
    clock = StepClock()
    async with SlackFake(clock=clock, stream_max_seconds=5, stream_idle_seconds=2) as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        ts = (await client.chat_startStream(channel="D1", thread_ts="1.000001"))["ts"]
        clock.now += 1.9
        await client.chat_appendStream(channel="D1", ts=ts, markdown_text="a")
        clock.now += 2
        assert fake.messages("D1")[0]["stream_expired"] is True
        ts = (await client.chat_startStream(channel="D1", thread_ts="1.000001"))["ts"]
        for _ in range(2):
            clock.now += 1.9
            await client.chat_appendStream(channel="D1", ts=ts, markdown_text="b")
        clock.now += 1.1
        assert fake.messages("D1")[1]["streaming"] is True  # 4.9 s open, 1.1 s idle
        clock.now += 0.2
        assert fake.messages("D1")[1]["stream_expired"] is True  # 5.1 s open, 1.3 s idle


async def test_update_and_delete_wait_for_the_stream_to_close(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """While a message streams, chat.update is streaming_state_conflict and chat.delete
    cant_delete_message; once stopped, both work as for any bot message."""
    ts = (await client.chat_startStream(channel="D1", thread_ts="1.000001", markdown_text="draft"))[
        "ts"
    ]
    assert (await _error(client.chat_update(channel="D1", ts=ts, text="edited")))[1] == (
        "streaming_state_conflict"
    )
    assert (await _error(client.chat_delete(channel="D1", ts=ts)))[1] == "cant_delete_message"
    assert fake.messages("D1")[0]["text"] == "draft"
    await client.chat_stopStream(channel="D1", ts=ts)
    await client.chat_update(channel="D1", ts=ts, text="edited")
    assert fake.messages("D1")[0]["text"] == "edited"
    await client.chat_delete(channel="D1", ts=ts)
    assert fake.messages("D1") == []


async def test_a_stream_the_user_stopped_refuses_more(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """After the recipient presses Stop, every append and stop answers stopped_by_user, and
    the message keeps what it had."""
    ts = (await client.chat_startStream(channel="D1", thread_ts="1.000001", markdown_text="a"))[
        "ts"
    ]
    fake.stop_stream_by_user("D1", ts)
    for call in (
        client.chat_appendStream(channel="D1", ts=ts, markdown_text="b"),
        client.chat_stopStream(channel="D1", ts=ts),
        client.chat_appendStream(channel="D1", ts=ts, markdown_text="b"),
    ):
        assert (await _error(call))[1] == "stopped_by_user"
    shown = fake.messages("D1")[0]
    assert (shown["text"], shown["streaming"], shown["stream_stopped_by_user"]) == (
        "a",
        False,
        True,
    )
    with pytest.raises(ValueError, match="not an open stream"):
        fake.stop_stream_by_user("D1", ts)


async def test_streaming_error_refuses_every_start() -> None:
    """streaming_error answers every chat.startStream (a workspace without the feature) and
    can be changed while the fake runs."""
    async with SlackFake(streaming_error="feature_not_enabled") as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        for _ in range(2):
            assert (await _error(client.chat_startStream(channel="D1", thread_ts="1.000001")))[
                1
            ] == "feature_not_enabled"
        assert fake.messages("D1") == []
        fake.streaming_error = None
        assert (await client.chat_startStream(channel="D1", thread_ts="1.000001"))["ok"]
        fake.streaming_error = "not_allowed"
        assert (await _error(client.chat_startStream(channel="D1", thread_ts="1.000001")))[1] == (
            "not_allowed"
        )


async def test_task_and_plan_chunks_and_invalid_ones(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """task_update chunks are kept by id (latest wins, first order) and plan_update as the
    plan's title; unknown chunks or titles over 256 characters are invalid_chunks."""
    ts = (
        await client.chat_startStream(
            channel="D1",
            thread_ts="1.000001",
            task_display_mode="plan",
            chunks=[
                {"type": "plan_update", "title": "Fix the bug"},
                {"type": "task_update", "id": "t1", "title": "Read", "status": "in_progress"},
                {"type": "task_update", "id": "t2", "title": "Test", "status": "pending"},
            ],
        )
    )["ts"]
    await client.chat_appendStream(
        channel="D1",
        ts=ts,
        chunks=[
            {
                "type": "task_update",
                "id": "t1",
                "title": "Read",
                "status": "complete",
                "output": "ok",
            },
            {"type": "markdown_text", "text": "Done."},
        ],
    )
    shown = fake.messages("D1")[0]
    assert (shown["plan_title"], shown["text"]) == ("Fix the bug", "Done.")
    assert shown["tasks"] == [
        {"id": "t1", "title": "Read", "status": "complete", "output": "ok"},
        {"id": "t2", "title": "Test", "status": "pending"},
    ]
    assert fake.history("D1", ts)[0]["tasks"][0]["status"] == "in_progress"
    bad = [
        {"type": "image", "url": "x"},
        {"type": "task_update", "id": "t3", "title": "x" * 257, "status": "pending"},
        {"type": "task_update", "id": "t3", "title": "x", "status": "done"},
        {"type": "plan_update", "title": "x" * 257},
        {"type": "markdown_text"},
    ]
    for chunk in bad:
        assert (await _error(client.chat_appendStream(channel="D1", ts=ts, chunks=[chunk])))[
            1
        ] == "invalid_chunks"
    assert fake.messages("D1")[0] == shown
    assert (
        await _error(client.chat_startStream(channel="D1", thread_ts="1.000001", chunks=bad[:1]))
    )[1] == "invalid_chunks"
    assert len(fake.messages("D1")) == 1
    await client.chat_appendStream(
        channel="D1", ts=ts, chunks=[{"type": "plan_update", "title": "x" * 256}]
    )
    assert fake.messages("D1")[0]["plan_title"] == "x" * 256


async def test_a_threads_status_is_cleared_by_a_bot_reply(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """setStatus shows a status in one thread ("" clears it); the bot's next post or stream in
    that thread clears it too; every change is in status_history."""
    set_status = client.assistant_threads_setStatus
    await set_status(
        channel_id="D1", thread_ts="1.000001", status="is thinking…", loading_messages=["Hm"]
    )
    assert fake.status("D1", "1.000001") == "is thinking…"
    await client.chat_postMessage(channel="D1", text="elsewhere", thread_ts="2.000001")
    await client.chat_postMessage(channel="D1", text="top level")
    assert fake.status("D1", "1.000001") == "is thinking…"
    reply = (await client.chat_postMessage(channel="D1", text="hi", thread_ts="1.000001"))["ts"]
    assert fake.status("D1", "1.000001") == ""
    await set_status(channel_id="D1", thread_ts="1.000001", status="is writing…")
    await client.chat_startStream(channel="D1", thread_ts="1.000001")
    assert fake.status("D1", "1.000001") == ""
    await set_status(channel_id="D1", thread_ts="1.000001", status="again")
    await set_status(channel_id="D1", thread_ts="1.000001", status="")
    assert fake.status("D1", "1.000001") == ""
    history = fake.status_history("D1", "1.000001")
    assert [(c["status"], c["by"]) for c in history] == [
        ("is thinking…", "assistant.threads.setStatus"),
        ("", "chat.postMessage"),
        ("is writing…", "assistant.threads.setStatus"),
        ("", "chat.startStream"),
        ("again", "assistant.threads.setStatus"),
        ("", "assistant.threads.setStatus"),
    ]
    assert (history[0]["loading_messages"], history[1]["ts"]) == (["Hm"], reply)
    assert fake.status_history("D1", "2.000001") == []
    assert (await _error(set_status(channel_id="nope", thread_ts="1.000001", status="x")))[1] == (
        "channel_not_found"
    )


async def test_stream_methods_have_slacks_rate_windows() -> None:
    """chat.startStream allows 20 a minute (Tier 2), then 429 with Retry-After until a token
    refills; the other streaming windows are Slack's too, and rate_limits= replaces them."""
    clock = StepClock()
    async with SlackFake(clock=clock) as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        for _ in range(20):
            await client.chat_startStream(channel="D1", thread_ts="1.000001")
        assert await _error(client.chat_startStream(channel="D1", thread_ts="1.000001")) == (
            429,
            "ratelimited",
            "3",
        )
        clock.now += 3
        assert (await client.chat_startStream(channel="D1", thread_ts="1.000001"))["ok"]
        assert len(fake.messages("D1")) == 21
        assert {
            method: (limit.per_minute, limit.burst, limit.scope)
            for method, limit in fake.limiter.limits.items()
            if "Stream" in method or method.startswith("assistant.")
        } == {
            "chat.startStream": (20, 20, "workspace"),
            "chat.stopStream": (20, 20, "workspace"),
            "chat.appendStream": (100, 100, "workspace"),
            "assistant.threads.setStatus": (600, 600, "workspace"),
        }
    limits = {"chat.appendStream": RateLimit(per_minute=1, burst=1)}
    async with SlackFake(clock=clock, rate_limits=limits) as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        for _ in range(25):
            ts = (await client.chat_startStream(channel="D1", thread_ts="1.000001"))["ts"]
        await client.chat_appendStream(channel="D1", ts=ts, markdown_text="a")
        assert await _error(client.chat_appendStream(channel="D1", ts=ts, markdown_text="b")) == (
            429,
            "ratelimited",
            "60",
        )


# -- scopes and files ---------------------------------------------------------------------


async def _get(url: str, token: str | None = None) -> tuple[int, str, bytes]:
    """GET a file URL as an app would (aiohttp): status, Content-Type, body."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, response.content_type, await response.read()


async def test_auth_test_reports_the_tokens_scopes_in_a_header(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """auth.test (like every answer to a valid bot token) lists the token's scopes in
    X-OAuth-Scopes; the default set is this bot's, files included; scopes= replaces it."""
    answer = await client.auth_test()
    granted = answer.headers["X-OAuth-Scopes"].split(",")
    assert granted == list(DEFAULT_SCOPES)
    assert {"chat:write", "files:read", "files:write", "users:read", "channels:history"} <= set(
        granted
    )
    assert (await client.users_info(user="U1")).headers["X-Accepted-OAuth-Scopes"] == ("users:read")
    async with SlackFake(bot_token=BOT, scopes=["chat:write", "files:read"]) as narrow:
        answer = await AsyncWebClient(token=BOT, base_url=narrow.url).auth_test()
        assert answer.headers["X-OAuth-Scopes"] == "chat:write,files:read"
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(token="xoxb-wrong", base_url=fake.url).auth_test()
    assert "X-OAuth-Scopes" not in refused.value.response.headers


async def test_a_missing_scope_is_refused_with_slacks_shape() -> None:
    """Without files:write an upload stops at its first call, and without files:read or
    users:read those lookups fail: missing_scope naming the needed and provided scopes.
    Methods the token has a scope for still work; nothing was uploaded."""
    async with SlackFake(bot_token=BOT, scopes=["chat:write", "channels:history"]) as fake:
        client = AsyncWebClient(token=BOT, base_url=fake.url)
        with pytest.raises(SlackApiError) as upload:
            await client.files_upload_v2(channel="C1", content=b"x", filename="x.txt")
        assert upload.value.response.data == {
            "ok": False,
            "error": "missing_scope",
            "needed": "files:write",
            "provided": "chat:write,channels:history",
        }
        with pytest.raises(SlackApiError) as info:
            await client.files_info(file="F1")
        assert (info.value.response["needed"], info.value.response["provided"]) == (
            "files:read",
            "chat:write,channels:history",
        )
        assert (await _error(client.users_info(user="U1")))[1] == "missing_scope"
        with pytest.raises(SlackApiError) as dm:
            await client.conversations_replies(channel="D1", ts="1.000001")
        assert dm.value.response["needed"] == "im:history"
        assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]
        assert [c["method"] for c in fake.calls] == [
            "files.getUploadURLExternal",
            "files.info",
            "users.info",
            "conversations.replies",
            "chat.postMessage",
        ]
        assert fake.uploads == []
        fake.scopes = (*fake.scopes, "files:write")  # reinstalled with the scope
        assert (await client.files_upload_v2(channel="C1", content=b"x", filename="x.txt"))["ok"]


async def test_a_file_url_serves_bytes_only_with_a_token_that_reads_files(
    fake: SlackFake,
) -> None:
    """With a valid bot token and files:read, url_private and url_private_download answer the
    bytes and the file's type; without a token, with a wrong one, or without the scope Slack
    answers 200 with its HTML sign-in page instead. Every GET is recorded."""
    content = b"\x89PNG\r\n\x1a\n fake image"
    file = fake.add_file("shot.png", content, mimetype="image/png")
    assert file["id"].startswith("F")
    assert (file["name"], file["title"], file["mimetype"], file["filetype"]) == (
        "shot.png",
        "shot.png",
        "image/png",
        "png",
    )
    assert (file["size"], file["user"], file["mode"]) == (len(content), "U0001", "hosted")
    prefix = f"http://127.0.0.1:{fake.port}/files-pri/{fake.team_id}-{file['id']}"
    assert file["url_private"] == f"{prefix}/shot.png"
    assert file["url_private_download"] == f"{prefix}/download/shot.png"
    assert await _get(file["url_private"], BOT) == (200, "image/png", content)
    assert await _get(file["url_private_download"], BOT) == (200, "image/png", content)
    for token in (None, "xoxb-wrong", APP):
        status, kind, body = await _get(file["url_private"], token)
        assert (status, kind) == (200, "text/html")
        assert b"Sign in" in body
        assert content not in body
    async with SlackFake(bot_token=BOT, scopes=["chat:write"]) as unscoped:
        other = unscoped.add_file("a.txt", b"secret", mimetype="text/plain")
        assert (await _get(other["url_private"], BOT))[1:] != ("text/plain", b"secret")
        assert unscoped.downloads[0]["error"] == "missing_scope"
    missing = file["url_private"].replace(file["id"], "F999999999")
    assert (await _get(missing, BOT))[0] == 404
    assert [(d["file_id"], d["download"], d["authorized"], d["error"]) for d in fake.downloads] == [
        (file["id"], False, True, None),
        (file["id"], True, True, None),
        (file["id"], False, False, "not_authed"),
        (file["id"], False, False, "invalid_auth"),
        (file["id"], False, False, "not_allowed_token_type"),
        ("F999999999", False, False, "file_not_found"),
    ]


async def test_files_in_seeded_messages_events_and_replies(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """A seeded message carries its files into conversations.replies, and their URLs lead to
    the bytes; events carry files too; files.info tells the file and where it was shared."""
    log = fake.add_file("build.log", b"FAILED: test_x\n", mimetype="text/plain")
    assert (log["filetype"], log["pretty_type"]) == ("text", "Plain Text")
    parent = fake.add_message("C1", "<@U0BOT0001> why?", user="U0001", files=[log])
    fake.add_message("C1", "and this", user="U0001", thread_ts=parent["ts"])
    thread = (await client.conversations_replies(channel="C1", ts=parent["ts"]))["messages"]
    assert [m.get("files", []) for m in thread] == [[log], []]
    shown = thread[0]["files"][0]
    assert (await _get(shown["url_private_download"], BOT))[2] == b"FAILED: test_x\n"
    mention = app_mention_event("<@U0BOT0001> why?", user="U0001", channel="C1", files=[log])
    assert mention["files"] == [log]
    assert "subtype" not in mention
    assert "files" not in app_mention_event("hi", user="U0001", channel="C1")
    posted = message_event("", user="U0001", channel="C1", files=[log])
    assert (posted["subtype"], posted["files"]) == ("file_share", [log])
    assert "subtype" not in message_event("hi", user="U0001", channel="C1")
    info = (await client.files_info(file=log["id"]))["file"]
    assert (info["id"], info["size"], info["channels"], info["is_public"]) == (
        log["id"],
        15,
        ["C1"],
        True,
    )
    assert info["shares"] == {"public": {"C1": [{"ts": parent["ts"]}]}}
    assert (await _error(client.files_info(file="F404")))[1] == "file_not_found"


async def test_files_upload_v2_shares_the_file_into_a_thread(
    fake: SlackFake, client: AsyncWebClient
) -> None:
    """slack-sdk's files_upload_v2 (get an upload URL, post the bytes, complete) posts a bot
    reply in the thread carrying the file, with the comment as its text; the file's URL
    serves exactly the uploaded bytes; the reply clears the thread's status."""
    parent = fake.add_message("C1", "<@U0BOT0001> send the diff", user="U0001")
    await client.assistant_threads_setStatus(
        channel_id="C1", thread_ts=parent["ts"], status="is working…"
    )
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\n+new ✓\n"
    answer = await client.files_upload_v2(
        channel="C1",
        thread_ts=parent["ts"],
        content=diff,
        filename="change.diff",
        title="The change",
        initial_comment="Here is the diff.",
    )
    file = answer["file"]
    assert (file["name"], file["title"], file["user"], file["size"]) == (
        "change.diff",
        "The change",
        fake.bot_user_id,
        len(diff.encode()),
    )
    assert [c["method"] for c in fake.calls[1:]] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert fake.calls[1]["params"]["length"] == str(len(diff.encode()))
    _, reply = fake.messages("C1", thread_ts=parent["ts"])
    assert (reply["user"], reply["bot_id"], reply["text"], reply["thread_ts"]) == (
        fake.bot_user_id,
        fake.bot_id,
        "Here is the diff.",
        parent["ts"],
    )
    assert [f["id"] for f in reply["files"]] == [file["id"]]
    assert await _get(reply["files"][0]["url_private"], BOT) == (
        200,
        file["mimetype"],
        diff.encode(),
    )
    thread = (await client.conversations_replies(channel="C1", ts=parent["ts"]))["messages"]
    assert thread[1]["files"][0]["id"] == file["id"]
    assert fake.status("C1", parent["ts"]) == ""
    assert fake.status_history("C1", parent["ts"])[-1]["by"] == "files.completeUploadExternal"
    (upload,) = fake.uploads
    assert {
        k: upload[k]
        for k in (
            "file_id",
            "filename",
            "title",
            "content",
            "channel",
            "thread_ts",
            "initial_comment",
            "completed",
            "message_ts",
        )
    } == {
        "file_id": file["id"],
        "filename": "change.diff",
        "title": "The change",
        "content": diff.encode(),
        "channel": "C1",
        "thread_ts": parent["ts"],
        "initial_comment": "Here is the diff.",
        "completed": True,
        "message_ts": reply["ts"],
    }
    shares = (await client.files_info(file=file["id"]))["file"]["shares"]
    assert shares == {"public": {"C1": [{"ts": reply["ts"], "thread_ts": parent["ts"]}]}}


async def test_upload_steps_fail_like_slack(fake: SlackFake, client: AsyncWebClient) -> None:
    """A length that is not a positive integer or no filename is invalid_arguments; completing
    an id never handed out, one whose bytes never arrived, or one already completed is
    file_not_found; thread_ts needs one channel; a multipart post is accepted too, and a
    failed completion changes nothing, so it can be retried."""
    get_url = client.files_getUploadURLExternal
    for length in (0, -3):
        assert (await _error(get_url(filename="a.txt", length=length)))[1] == "invalid_arguments"
    assert (await _error(client.api_call("files.getUploadURLExternal", params={"length": 3})))[
        1
    ] == "invalid_arguments"
    assert (
        await _error(
            client.api_call(
                "files.getUploadURLExternal", params={"filename": "a.txt", "length": "x"}
            )
        )
    )[1] == "invalid_arguments"
    complete = client.files_completeUploadExternal
    assert (await _error(complete(files=[{"id": "F404"}], channel_id="C1")))[1] == (
        "file_not_found"
    )
    ticket = await get_url(filename="notes.txt", length=5)
    assert ticket["upload_url"].startswith(f"http://127.0.0.1:{fake.port}/upload/v1/")
    assert (await _error(complete(files=[{"id": ticket["file_id"]}], channel_id="C1")))[1] == (
        "file_not_found"  # nothing was posted to the upload URL
    )
    form = aiohttp.FormData()
    form.add_field("filename", "notes.txt")  # a plain field before the file's part
    form.add_field("file", b"hello", filename="notes.txt")
    async with (
        aiohttp.ClientSession() as session,
        session.post(ticket["upload_url"], data=form) as posted,
    ):
        assert (posted.status, await posted.text()) == (200, "OK - 5")
    assert (
        await _error(
            complete(files=[{"id": ticket["file_id"]}], channels=["C1", "C2"], thread_ts="1.0")
        )
    )[1] == "invalid_arguments"
    assert (await _error(complete(files=[{"id": ticket["file_id"]}], channel_id="bad")))[1] == (
        "channel_not_found"
    )
    assert fake.messages("C1") == []
    assert (await _error(client.files_info(file=ticket["file_id"])))[1] == "file_not_found"
    done = await complete(files=[{"id": ticket["file_id"]}], channels=["C1", "G1"])
    assert [(f["id"], f["title"], f["filetype"]) for f in done["files"]] == [
        (ticket["file_id"], "notes.txt", "text")
    ]
    assert [m["files"][0]["id"] for m in fake.messages("C1") + fake.messages("G1")] == [
        ticket["file_id"]
    ] * 2
    assert (await _error(complete(files=[{"id": ticket["file_id"]}])))[1] == "file_not_found"
    async with aiohttp.ClientSession() as session, session.post(ticket["upload_url"]) as late:
        assert late.status == 404  # a completed upload's URL takes nothing more
    assert fake.uploads[0]["content"] == b"hello"
    unshared = await get_url(filename="quiet.bin", length=1)
    async with (
        aiohttp.ClientSession() as session,
        session.post(unshared["upload_url"], data=b"\x00") as posted,
    ):
        assert await posted.text() == "OK - 1"
    as_json = {"files": [{"id": unshared["file_id"]}]}  # a JSON body's list, not a string
    assert (await client.api_call("files.completeUploadExternal", json=as_json))["ok"]
    assert fake.uploads[1]["channel"] is None
    assert (await client.files_info(file=unshared["file_id"]))["file"]["channels"] == []


async def test_files_and_thread_reads_have_slacks_rate_windows() -> None:
    """conversations.replies allows 50 a minute (Tier 3), then 429; the upload methods and
    users.info and files.info are Tier 4 (100 a minute)."""
    clock = StepClock()
    async with SlackFake(clock=clock) as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.url)
        parent = fake.add_message("C1", "question", user="U0001")
        for _ in range(50):
            await client.conversations_replies(channel="C1", ts=parent["ts"])
        assert await _error(client.conversations_replies(channel="C1", ts=parent["ts"])) == (
            429,
            "ratelimited",
            "2",
        )
        assert {
            method: (limit.per_minute, limit.burst, limit.scope)
            for method, limit in fake.limiter.limits.items()
            if method.startswith(("files.", "users.", "conversations."))
        } == {
            "conversations.replies": (50, 50, "workspace"),
            "users.info": (100, 100, "workspace"),
            "files.info": (100, 100, "workspace"),
            "files.getUploadURLExternal": (100, 100, "workspace"),
            "files.completeUploadExternal": (100, 100, "workspace"),
        }

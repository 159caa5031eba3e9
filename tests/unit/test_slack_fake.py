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

from tests.fakes.slack_api import (
    FaultBody,
    RateLimit,
    SlackFake,
    app_mention_event,
    event_callback,
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

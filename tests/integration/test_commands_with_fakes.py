"""Commands and Approvals with fakes for Slack and Codex, on a real Redis.

The end-to-end suites drive these through Slack's signed requests; here each collaborator is a
small fake handed to the constructor, so one decision is tested at a time.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from bot.access import Access
from bot.approvals import Approvals
from bot.commands import Commands
from bot.config import Settings
from bot.mentions import Mention
from bot.replies import PrivateReplies, Requester
from bot.store import Store
from bot.tasks import BackgroundTasks
from tests.integration.test_store import _approval


class ToldReplies:
    """Records what each user was privately told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []

    async def tell(self, req: Requester, text: str, **_: Any) -> None:
        self.told.append((req.user, text))

    def to(self, req: Requester) -> Any:
        async def tell(text: str) -> None:
            self.told.append((req.user, text))

        return tell


def _settings(**extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token="xoxb-unit",
        slack_signing_secret="unit-signing-secret",
        **extra,
    )


def _click(value: str, *, user: str = "U1", channel: str = "C1", ts: str = "5.000001") -> Any:
    return {
        "type": "block_actions",
        "user": {"id": user, "team_id": "T1"},
        "team": {"id": "T1"},
        "channel": {"id": channel},
        "container": {"channel_id": channel, "message_ts": "4.000001"},
        "message": {"ts": "4.000001", "thread_ts": "1.000001"},
        "actions": [{"action_id": "codex_rerun", "value": value, "action_ts": ts}],
    }


@pytest.fixture
def store(redis_client: aioredis.Redis) -> Store:
    return Store(redis_client)


def _commands(
    store: Store, settings: Settings, replies: ToldReplies, submitted: list[Any]
) -> Commands:
    async def submit(mention: Mention) -> None:
        submitted.append(mention)

    nothing = cast(Any, None)  # collaborators these tests never reach
    return Commands(
        pool=nothing,
        store=store,
        slack=nothing,
        access=Access(settings, nothing),
        replies=cast(PrivateReplies, replies),
        recaps=nothing,
        approvals=nothing,
        submit=submit,
        bot_user_id="U0BOT",
    )


LOST = Mention("T1", "C1", "1.000001", "1.000002", "U9", "what broke?")


async def test_run_again_resubmits_the_lost_request_as_the_clicker_with_a_new_ts(
    store: Store,
) -> None:
    """The saved mention runs again, asked by whoever clicked, under the click's ts."""
    replies, submitted = ToldReplies(), list[Mention]()
    commands = _commands(store, _settings(), replies, submitted)
    value = await store.save_rerun(LOST.to_json())
    await commands.rerun_clicked(_click(value, user="U1", ts="5.000001"))
    assert submitted == [Mention("T1", "C1", "1.000001", "5.000001", "U1", "what broke?")]
    assert replies.told == []


async def test_run_again_is_refused_elsewhere_expired_or_to_the_unallowed(store: Store) -> None:
    """A click from another channel, on an expired button, or by a user the allowlist leaves
    out runs nothing and tells the clicker why."""
    replies, submitted = ToldReplies(), list[Mention]()
    commands = _commands(store, _settings(allowed_users=["U2"]), replies, submitted)
    value = await store.save_rerun(LOST.to_json())

    await commands.rerun_clicked(_click(value, user="U2", channel="C7"))
    await commands.rerun_clicked(_click("no-such-id", user="U2"))
    await commands.rerun_clicked(_click(value, user="U1"))

    assert submitted == []
    assert [user for user, _ in replies.told] == ["U2", "U2", "U1"]
    assert "another channel" in replies.told[0][1]
    assert "day old" in replies.told[1][1]


async def test_an_approval_is_decided_once_by_the_first_allowed_click(store: Store) -> None:
    """Only the starter's click from the prompt's channel decides, once; the others are told."""
    settings = _settings()
    approvals = Approvals(
        store=store,
        slack=cast(Any, None),
        settings=settings,
        access=Access(settings, cast(Any, None)),
        tasks=BackgroundTasks("test"),
    )
    await store.save_approval(_approval("ap1"))
    told: list[str] = []

    async def tell(text: str) -> None:
        told.append(text)

    await approvals.answer(user="U2", value="ap1:0", tell=tell, channel="C1")  # not the starter
    await approvals.answer(user="U1", value="ap1:0", tell=tell, channel="C2")  # elsewhere
    await approvals.answer(user="U1", value="ap1:1", tell=tell, channel="C1")  # decides
    await approvals.answer(user="U1", value="ap1:0", tell=tell, channel="C1")  # too late

    state = await store.get_approval("ap1")
    assert state is not None
    assert state.decision is not None
    assert (state.decision.decision, state.decision.user) == ('"decline"', "U1")
    assert len(told) == 3
    assert "Only <@U1>" in told[0]
    assert "another channel" in told[1]
    assert "already answered" in told[2]

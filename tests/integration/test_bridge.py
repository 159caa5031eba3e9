"""bot.bridge with a scripted job runner, on a real Redis: queues, leases, hand-over, takeover.

The runner stands in for :class:`bot.turns.TurnRunner` (Slack and Codex are not involved):
it records the jobs it is given and runs each until the test lets it finish.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.bridge import Bridge
from bot.config import Settings
from bot.mentions import Mention
from bot.metrics import Metrics
from bot.store import Job, Store
from bot.tasks import BackgroundTasks
from tests.integration.reliability import eventually


class ScriptedRunner:
    """Runs jobs by waiting for the test to :meth:`finish` them; records every run."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.runs: list[tuple[Job, bool]] = []
        self.finished: dict[str, asyncio.Event] = {}
        self.changed = asyncio.Event()

    async def run(self, job: Job, *, taken_over: bool = False) -> None:
        self.runs.append((job, taken_over))
        self.changed.set()
        done = self.finished.setdefault(Mention.from_json(job.mention).ts, asyncio.Event())
        await done.wait()

    def finish(self, ts: str) -> None:
        self.finished.setdefault(ts, asyncio.Event()).set()

    async def started(self, count: int) -> None:
        while len(self.runs) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)


class FakeSlack:
    """Records the notices the bridge posts."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    async def chat_postMessage(self, **params: Any) -> dict[str, Any]:  # Slack's name
        self.posted.append(params)
        return {"ok": True, "ts": "9.000001"}


def _mention(ts: str, thread_ts: str = "1.000001") -> Mention:
    return Mention("T1", "C1", thread_ts, ts, "U1", f"question {ts}")


@pytest.fixture
def settings() -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token="xoxb-unit",
        slack_signing_secret="unit-signing-secret",
        replica_heartbeat_seconds=0.5,
    )


async def _bridge(
    redis_client: aioredis.Redis, settings: Settings, owner: str
) -> tuple[Bridge, ScriptedRunner, FakeSlack]:
    runner = ScriptedRunner(owner)
    slack = FakeSlack()
    bridge = Bridge(
        settings=settings,
        store=Store(redis_client),
        slack=slack,  # type: ignore[arg-type]
        runner=runner,
        metrics=Metrics(),
        tasks=BackgroundTasks("test"),
    )
    await bridge.start()
    return bridge, runner, slack


async def test_mentions_on_one_thread_run_one_after_another(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """The second mention waits (its author is told) and runs when the first job ends."""
    bridge, runner, slack = await _bridge(redis_client, settings, "replica-a")
    first = asyncio.create_task(bridge.submit(_mention("1.000001")))
    await runner.started(1)
    await bridge.submit(_mention("1.000002"))
    assert "queued" in slack.posted[-1]["text"]
    assert len(runner.runs) == 1

    runner.finish("1.000001")
    await runner.started(2)
    runner.finish("1.000002")
    await first
    assert [Mention.from_json(j.mention).ts for j, _ in runner.runs] == ["1.000001", "1.000002"]
    assert await bridge.store.lease_owner("T1:C1:1.000001") is None
    await bridge.aclose()


async def test_a_mention_behind_a_job_that_has_its_final_is_not_told_to_wait(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """The answer is showing and the job is only winding up: the next mention runs right
    after it, without a "queued" notice under the answer."""
    bridge, runner, slack = await _bridge(redis_client, settings, "replica-a")
    first = asyncio.create_task(bridge.submit(_mention("1.000001")))
    await runner.started(1)
    key = "T1:C1:1.000001"
    assert await bridge.store.update_job(key, "replica-a", final="the answer")
    await bridge.submit(_mention("1.000002"))
    assert not slack.posted
    runner.finish("1.000001")
    await runner.started(2)
    runner.finish("1.000002")
    await first
    await bridge.aclose()


async def test_shutdown_hands_a_running_job_to_another_replica(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """A job still running at the drain deadline is taken over, as a taken-over job, by the
    next replica to look; the leaving replica's heartbeat is gone at once."""
    leaving, runner, _ = await _bridge(redis_client, settings, "replica-a")
    submitted = asyncio.create_task(leaving.submit(_mention("1.000001")))
    await runner.started(1)

    await leaving.shutdown(drain_seconds=0)
    assert submitted.done()
    assert not await leaving.store.is_alive("replica-a")

    other, other_runner, _ = await _bridge(redis_client, settings, "replica-b")
    await other_runner.started(1)
    job, taken_over = other_runner.runs[0]
    assert taken_over
    assert Mention.from_json(job.mention).ts == "1.000001"
    assert job.owner == "replica-b"
    other_runner.finish("1.000001")

    async def released() -> bool:
        return await other.store.lease_owner("T1:C1:1.000001") is None

    await eventually(released, what="the lease to be released")
    await other.aclose()


async def test_a_mention_submitted_while_stopping_waits_for_another_replica(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """A replica that is shutting down queues a new mention without running it."""
    leaving, runner, slack = await _bridge(redis_client, settings, "replica-a")
    await leaving.shutdown(drain_seconds=0)
    await leaving.submit(_mention("1.000001"))
    assert runner.runs == []
    assert slack.posted == []  # nobody is told "queued behind a running turn": none runs

    other, other_runner, _ = await _bridge(redis_client, settings, "replica-b")
    await other_runner.started(1)
    assert other_runner.runs[0][1] is False  # a queued mention, not a taken-over job
    other_runner.finish("1.000001")
    await other.aclose()

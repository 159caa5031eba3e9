"""Conversations: queued mentions run as Codex turns, one at a time per Slack thread, on
whichever replica holds the thread — and every reply survives the replica that ran it.

For each mention (handed over by :mod:`bot.intake` once deduplicated and allowed) the bridge
queues it on its Slack thread and, if no turn is running there (a lease in Redis, shared by
every replica), runs the queue: a mention that arrives mid-turn becomes the next turn, and its
author is told so. Each queued mention leaves the queue only as a **job** in Redis
(:class:`bot.store.Job`), which :class:`bot.turns.TurnRunner` runs and writes as it goes.

Replicas beat a heartbeat; every replica's watcher takes over threads whose lease holder
stopped beating (a crash) or handed over (a deploy), and finishes their job from the record,
then runs their queue. A shutdown lets running turns finish for a while, then hands the rest
over by retiring the heartbeat (see :meth:`Bridge.shutdown`).

Failures are told to the thread: Redis unreachable, a failed turn. Nothing is removed from
Redis on a failure, so the mapping survives for the next attempt.

Why not redis-py's ``Lock`` for the lease: a thread must be taken over the moment its holder's
*heartbeat* stops (seconds), not when a lock's timeout lapses, and taking it must move the job
to the new owner in the same atomic step; :mod:`bot.store`'s scripts do both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, Protocol

import redis.exceptions
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.config import Settings
from bot.mentions import Mention, SlackThread
from bot.metrics import Metrics
from bot.replies import post_notice
from bot.store import Job, Store
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
"""A thread's lease lapses this long after its holder stopped renewing it: a backstop only, as
takeover goes by the holder's heartbeat (seconds), not by the lease."""


class JobRunner(Protocol):
    """Runs one job to its end (:class:`bot.turns.TurnRunner`); ``owner`` is the replica."""

    owner: str

    async def run(self, job: Job, *, taken_over: bool = False) -> None: ...


def new_replica_id() -> str:
    """A name for this process among the replicas (its heartbeat and the leases it holds)."""
    return f"replica-{uuid.uuid4().hex[:12]}"


class Bridge:
    """The queue of every Slack thread, run by this replica or taken over from another."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        slack: AsyncWebClient,
        runner: JobRunner,
        metrics: Metrics,
        tasks: BackgroundTasks,
    ) -> None:
        self.settings = settings
        self.store = store
        self.slack = slack
        self.runner = runner
        self.owner = runner.owner
        self.metrics = metrics
        self.tasks = tasks
        self._holds: dict[str, asyncio.Task[Any]] = {}
        """The task holding each Slack thread's lease on this replica, by thread key."""
        self._background: list[asyncio.Task[None]] = []
        self.stopping = False
        """Set by :meth:`shutdown`: no new turn starts here, and no thread is taken over."""

    # -- replica lifecycle --

    async def start(self) -> None:
        """Beat the first heartbeat, then keep beating and watch for threads to take over."""
        try:
            await self.store.heartbeat(self.owner, self.settings.replica_heartbeat_seconds)
        except redis.exceptions.RedisError as exc:
            # The bot still serves (each mention is told Redis is down) until Redis is back.
            log.error("Redis is unreachable at start: %s", exc)
        self._background = [
            asyncio.create_task(self._beat(), name="replica-heartbeat"),
            asyncio.create_task(self._watch(), name="takeover-watcher"),
        ]

    async def _beat(self) -> None:
        ttl = self.settings.replica_heartbeat_seconds
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                await self.store.heartbeat(self.owner, ttl)
            except redis.exceptions.RedisError as exc:
                log.warning("could not renew the heartbeat: %s", exc)

    async def _watch(self) -> None:
        """Take over threads whose replica died or handed them over, as they appear."""
        interval = self.settings.replica_heartbeat_seconds / 5
        while not self.stopping:
            try:
                orphans = await self.store.claim_orphans(self.owner, LEASE_SECONDS)
            except redis.exceptions.RedisError as exc:
                log.warning("takeover watcher: Redis unreachable: %s", exc)
                orphans = []
            for key, has_job in orphans:
                self.tasks.spawn(self._take_over(key, has_job))
            await asyncio.sleep(interval)

    async def shutdown(self, drain_seconds: float) -> None:
        """Stop starting turns; let running ones finish for up to ``drain_seconds``; hand the
        rest over to the other replicas (or to this one's successor) without waiting for a
        lease to lapse. Replies handed over keep what they show; nothing is written to them."""
        self.stopping = True
        running = list(self._holds.values())
        log.info("shutting down: %d thread(s) in flight", len(running))
        if running:
            await asyncio.wait(running, timeout=drain_seconds)
        left = [task for task in self._holds.values() if not task.done()]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        await self._stop_background()
        with contextlib.suppress(redis.exceptions.RedisError):
            await self.store.retire(self.owner)
        log.info("shut down: %d finished, %d handed over", len(running) - len(left), len(left))

    async def _stop_background(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []

    async def aclose(self) -> None:
        """Stop at once (no drain): the heartbeat stops, and running work is cancelled."""
        await self._stop_background()

    # -- the queue of a thread --

    async def submit(self, mention: Mention) -> None:
        """Queue ``mention`` on its thread and run the queue unless another turn is running.

        While this replica shuts down the mention only waits in the queue: another replica
        (or this one's successor) takes the thread over within a heartbeat.
        """
        try:
            await self.store.enqueue_pending(mention.thread.key, mention.to_json())
            await self.store.remember_user_thread(
                mention.team, mention.channel, mention.user, mention.thread_ts
            )
            if self.stopping:
                return
            ran = await self._drain(mention.thread.key)
        except redis.exceptions.RedisError:
            log.exception("Redis unreachable", extra=mention.thread.log_fields)
            await self.say(mention.thread, render.REDIS_DOWN)
            return
        if not ran and not await self._finishing(mention.thread.key):
            await self.say(mention.thread, render.queued(mention.user))

    async def _finishing(self, key: str) -> bool:
        """Whether the thread's running job already has its final text: the mention runs in
        a moment, and "your request is queued" under an answer just shown would only confuse."""
        try:
            job = await self.store.get_job(key)
        except redis.exceptions.RedisError:
            return False
        return job is not None and job.final is not None

    async def _drain(self, key: str) -> bool:
        """Run the thread's queued mentions while holding its lease; False if another holds it."""
        took = False
        while not self.stopping and await self.store.acquire_lease(key, self.owner, LEASE_SECONDS):
            took = True
            await self._hold(key)
            # A mention queued between our last pop and the release found the lease taken;
            # look once more so it is never stranded.
            if await self.store.pending_count(key) == 0:
                break
        return took

    async def _take_over(self, key: str, has_job: bool) -> None:
        """Finish the job of a thread whose replica died or left, then run its queue."""
        thread = SlackThread.from_key(key)
        job = await self.store.get_job(key) if has_job else None
        log.info("took over a thread (job: %s)", job is not None, extra=thread.log_fields)
        self.metrics.takeovers.inc()
        await self._hold(key, job)
        if await self.store.pending_count(key):
            await self._drain(key)

    async def _hold(self, key: str, job: Job | None = None) -> None:
        """Run ``job`` (a taken-over one), then the queue, while this replica holds the lease.

        Cancelled by :meth:`shutdown` when the drain deadline passes: the lease and the job
        are then left as they are, for the replica that takes the thread over.
        """
        task = asyncio.current_task()
        assert task is not None
        self._holds[key] = task
        renewer = asyncio.create_task(self._renew(key))
        handed_over = False
        try:
            if job is not None:
                await self.runner.run(job, taken_over=True)
            while not self.stopping and (job := await self.store.start_job(key, self.owner)):
                await self.runner.run(job)
        except asyncio.CancelledError:
            handed_over = True
            raise
        finally:
            renewer.cancel()
            if self._holds.get(key) is task:
                del self._holds[key]
            if not handed_over:
                with contextlib.suppress(redis.exceptions.RedisError):
                    await self.store.release_lease(key, self.owner)

    async def _renew(self, key: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            with contextlib.suppress(redis.exceptions.RedisError):
                await self.store.renew_lease(key, self.owner, LEASE_SECONDS)

    async def say(self, thread: SlackThread, text: str) -> None:
        """Post a notice in the thread; a Slack failure is not worth more than a log line."""
        await post_notice(
            self.slack, thread.channel, thread.thread_ts, text, log_fields=thread.log_fields
        )

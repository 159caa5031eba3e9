"""Helpers of the reliability tests: reading a thread's job and waiting on Redis state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.store import Job, Store, thread_key
from tests.integration.bot_harness import CHANNEL, TEAM


def key_of(thread_ts: str) -> str:
    """The store's key of a thread in the test channel."""
    return thread_key(TEAM, CHANNEL, thread_ts)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds (Redis state has no event to wait on), or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def job_of(store: Store, thread_ts: str) -> Job | None:
    return await store.get_job(key_of(thread_ts))


async def owner_changes(store: Store, thread_ts: str, old_owner: str, timeout: float = 30) -> str:
    """Wait until another replica owns the thread's job; returns the new owner."""
    found: list[str] = []

    async def moved() -> bool:
        job = await job_of(store, thread_ts)
        if job is not None and job.owner != old_owner:
            found.append(job.owner)
            return True
        return False

    await eventually(moved, timeout=timeout, what="the job to change owner")
    return found[-1]

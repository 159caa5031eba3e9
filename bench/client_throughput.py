"""How fast codex_client routes notifications, and what an open turn costs in memory.

Run: ``python -m bench.client_throughput [--deltas 50000] [--rounds 3] [--turns 200]``

1. Throughput. One fake app-server runs in a child process (so its own cost stays out of
   the measured process) and answers each ``turn/start`` with a flood of agent-message
   deltas. The same flood is read twice in this run:

   - *baseline*: a bare ``websockets`` client doing ``json.loads(await ws.recv())`` in a
     loop until ``turn/completed``;
   - *client*: a :class:`~codex_client.CodexPool` turn, every event read as a typed
     :data:`~codex_client.TurnEvent` through ``TurnHandle.events()``.

   Both rates are notifications per second of wall time (best of ``--rounds``), and the
   ratio client/baseline is printed (goal: >= 0.7). The same ratio is also printed per
   CPU second of this process, which does not depend on how fast the child can send.

2. Memory. With the fake holding every turn open after its first delta, ``--turns``
   concurrent turns (one per thread) are started through one pool and their first events
   read; ``tracemalloc`` measures what the open turns added, per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect

from codex_client import AgentMessageDelta, CodexPool, Endpoint, TurnCompleted


@dataclass
class Rate:
    messages: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.messages / self.wall

    @property
    def per_cpu_second(self) -> float:
        return self.messages / self.cpu


@contextlib.asynccontextmanager
async def fake_server(*args: str) -> AsyncIterator[str]:
    """The fake app-server in a child process; yields its ws:// URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codex_client.testing",
        *args,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def baseline(url: str) -> Rate:
    """A bare websockets + json.loads reader over one flooded turn."""
    async with connect(url, compression=None, max_size=None, proxy=None) as ws:

        async def call(request_id: int, method: str, params: dict[str, object]) -> dict[str, Any]:
            await ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == request_id:
                    result: dict[str, Any] = message["result"]
                    return result

        info = {"name": "bench", "version": "0"}
        await call(1, "initialize", {"clientInfo": info, "capabilities": {}})
        thread = (await call(2, "thread/start", {}))["thread"]
        wall, cpu = time.perf_counter(), time.process_time()
        input_ = [{"type": "text", "text": "go"}]
        await call(3, "turn/start", {"threadId": thread["id"], "input": input_})
        count = 0
        while True:
            message = json.loads(await ws.recv())
            count += 1
            if message.get("method") == "turn/completed":
                break
        return Rate(count, time.perf_counter() - wall, time.process_time() - cpu)


async def client(url: str) -> Rate:
    """The same flood through a pool, read as typed events."""
    async with CodexPool([Endpoint(url)]) as pool:
        thread = await pool.start_thread()
        wall, cpu = time.perf_counter(), time.process_time()
        turn = await thread.start_turn("go")
        count = deltas = 0
        async for event in turn.events():
            count += 1
            if isinstance(event, AgentMessageDelta):
                deltas += 1
        assert isinstance(event, TurnCompleted)
        assert deltas > 0
        return Rate(count, time.perf_counter() - wall, time.process_time() - cpu)


async def throughput(deltas: int, rounds: int) -> tuple[Rate, Rate]:
    async with fake_server("--flood", str(deltas)) as url:
        bases, clients = [], []
        for _ in range(rounds):
            bases.append(await baseline(url))
            clients.append(await client(url))
    best_base = max(bases, key=lambda r: r.per_second)
    best_client = max(clients, key=lambda r: r.per_second)
    return best_base, best_client


async def memory_per_turn(turns: int) -> tuple[float, float]:
    """Bytes added per open turn, and seconds to open them all concurrently."""
    async with (
        fake_server("--hold") as url,
        CodexPool([Endpoint(url)], request_timeout=120) as pool,
    ):
        threads = await asyncio.gather(*(pool.start_thread() for _ in range(turns)))
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        started = time.perf_counter()
        handles = await asyncio.gather(*(t.start_turn("hold") for t in threads))
        # Each held turn sends turn/started, item/started and one delta: wait for all.
        streams = [h.events() for h in handles]
        for events in streams:
            async for event in events:
                if isinstance(event, AgentMessageDelta):
                    break
        elapsed = time.perf_counter() - started
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        added = sum(s.size_diff for s in after.compare_to(before, "filename"))
        return added / turns, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()

    base, ours = asyncio.run(throughput(args.deltas, args.rounds))
    print(f"notifications per turn            {ours.messages:>12,}")
    print(f"baseline  (websockets + json)     {base.per_second:>12,.0f} /s wall")
    print(f"codex_client (typed turn events)  {ours.per_second:>12,.0f} /s wall")
    print(f"ratio client/baseline (wall)      {ours.per_second / base.per_second:>12.2f}")
    cpu_ratio = ours.per_cpu_second / base.per_cpu_second
    print(f"ratio client/baseline (CPU)       {cpu_ratio:>12.2f}")

    per_turn, elapsed = asyncio.run(memory_per_turn(args.turns))
    print(f"{args.turns} concurrent turns opened in     {elapsed:>9.2f} s")
    print(f"memory per open turn              {per_turn / 1024:>12.1f} KiB")


if __name__ == "__main__":
    main()

"""What a /recap costs as a thread's history grows: a 1,000-turn thread against a 10-turn one.

Run: ``python -m bench.recap [--turns 1000] [--small 10] [--rounds 5] [--limit 5]``

Everything is real except Slack: the pinned Codex app-server with the scripted model, a Redis
(``REDIS_URL``, else a private ``redis-server`` on a free port), and the bot's own
:class:`~bot.service.Service` in HTTP mode; Slack is the recording fake. A byte-counting TCP
relay sits between the bot and the app-server, so "bytes" below are every byte the bot read
from the app-server (WebSocket framing included) while the recap ran.

1. Build. Two Codex threads of ``--small`` and ``--turns`` echo turns are made straight through a
   separate client (not through the relay, not timed) and mapped to two Slack threads in Redis,
   as the bot maps the threads it starts. At ~50 ms a turn, 1,000 turns take about a minute.
2. Measure. For each thread, ``--rounds`` times: a signed ``/recap <permalink> <limit>`` to the
   bot, timed until the answer reaches the command's ``response_url``; then a click on its
   "Older" button, timed until the second page arrives. Medians are printed, and the ratio of
   the big thread to the small one (goal: about 1, recap must not grow with history).
3. Context. The whole history paged through ``thread/turns/list`` (summary view, 100 turns a
   page) through the same relay: what reading everything would cost instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot import render
from bot.config import default_codex_bin
from bot.store import Store, ThreadRecord
from codex_client import CodexPool, Endpoint
from playground.model.scripted import ModelServer
from playground.slack.api import SlackFake
from playground.slack.payloads import (
    TEAM_DOMAIN,
    block_actions_payload,
    form_body,
    interactive_body,
    slash_command_form,
)
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import CHANNEL, TEAM, USER, BotHarness, bot_settings


class CountingRelay:
    """A TCP relay on 127.0.0.1 that counts the bytes flowing from the server to clients."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.received = 0
        self.listen_port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingRelay:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.listen_port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        await asyncio.gather(
            self._pipe(reader, up_writer, count=False),
            self._pipe(up_reader, writer, count=True),
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, count: bool
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if count:
                    self.received += len(data)
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """REDIS_URL when set, else a private throwaway redis-server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed; run scripts/bootstrap or set REDIS_URL")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(500):
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.01)  # a starting server's port: there is no event to wait on
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@dataclass
class Sample:
    seconds: float
    received: int


@dataclass
class Result:
    turns: int
    first: list[Sample]
    older: list[Sample]

    @staticmethod
    def median(samples: list[Sample]) -> Sample:
        return Sample(
            statistics.median(s.seconds for s in samples),
            int(statistics.median(s.received for s in samples)),
        )


async def build_thread(pool: CodexPool, turns: int, label: str) -> str:
    """A Codex thread with ``turns`` completed echo turns; returns its id."""
    thread = await pool.start_thread()
    started = time.perf_counter()
    for i in range(turns):
        turn = await thread.start_turn(f"{label} turn {i}")
        result = await turn.wait()
        if result.status != "completed":
            raise RuntimeError(f"turn {i} of {label} ended {result.status}")
        if (i + 1) % 100 == 0:
            rate = (i + 1) / (time.perf_counter() - started)
            print(f"  {label}: {i + 1}/{turns} turns ({rate:.0f} turns/s)", flush=True)
    return thread.id


async def recap_once(
    bot: BotHarness, slack: SlackFake, relay: CountingRelay, thread_ts: str, limit: int
) -> tuple[Sample, Sample]:
    """One /recap and one Older click, each timed to its answer with the bytes it pulled."""
    url = slack.response_url()
    link = f"https://{TEAM_DOMAIN}.slack.com/archives/{CHANNEL}/p{thread_ts.replace('.', '')}"
    form = slash_command_form(
        "/recap", f"{link} {limit}", user_id=USER, channel_id=CHANNEL, response_url=url
    )
    before, started = relay.received, time.perf_counter()
    status, _ = await bot.post_signed(
        form_body(form), content_type="application/x-www-form-urlencoded"
    )
    assert status == 200
    await slack.wait_for(lambda: slack.responses(url), timeout=60)
    first = Sample(time.perf_counter() - started, relay.received - before)

    page = slack.responses(url)[0]
    older = next(
        e["value"]
        for b in page["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == render.ACTION_RECAP_OLDER
    )
    click_url = slack.response_url()
    click = block_actions_payload(
        action_id=render.ACTION_RECAP_OLDER,
        value=older,
        user=USER,
        channel=CHANNEL,
        message_ts="1.000000",
        is_ephemeral=True,
        response_url=click_url,
    )
    before, started = relay.received, time.perf_counter()
    status, _ = await bot.post_signed(
        interactive_body(click), content_type="application/x-www-form-urlencoded"
    )
    assert status == 200
    await slack.wait_for(lambda: slack.responses(click_url), timeout=60)
    second = Sample(time.perf_counter() - started, relay.received - before)
    return first, second


async def full_history(pool: CodexPool, relay: CountingRelay, thread_id: str) -> Sample:
    """The whole history in the summary view, 100 turns a page, through the relay."""
    before, started = relay.received, time.perf_counter()
    async for _ in pool.thread(thread_id).turns(limit=100):
        pass
    return Sample(time.perf_counter() - started, relay.received - before)


@contextlib.asynccontextmanager
async def peers(workdir: Path) -> AsyncIterator[tuple[SlackFake, CodexServer, ModelServer]]:
    """The scripted model, the real app-server on it, and the Slack fake (no rate limits)."""
    async with (
        ModelServer() as model,
        CodexServer(Path(default_codex_bin()), model.base_url, workdir / "codex") as codex,
        SlackFake(rate_limits={}) as slack,
    ):
        yield slack, codex, model


async def run(args: argparse.Namespace) -> None:
    with redis_url() as redis, tempfile.TemporaryDirectory() as tmp:
        async with (
            peers(Path(tmp)) as (slack, codex, model),
            CountingRelay("127.0.0.1", codex.port) as relay,
        ):
            sizes = {"small": args.small, "big": args.turns}
            print(f"building threads of {args.small} and {args.turns} turns…", flush=True)
            async with CodexPool([Endpoint(url=codex.url)], request_timeout=120) as builder:
                ids = {label: await build_thread(builder, n, label) for label, n in sizes.items()}

            settings = bot_settings(slack, codex, redis, codex_request_timeout=60.0)
            settings = settings.model_copy(update={"codex_url": relay.url})
            bot = BotHarness(slack, codex, model, redis, settings)
            await bot.start()
            try:
                assert bot.service is not None
                store: Store = bot.service.store
                slack_threads = {}
                for label, codex_id in ids.items():
                    thread_ts = slack.next_ts()
                    slack_threads[label] = thread_ts
                    await store.claim_thread(
                        ThreadRecord(
                            codex_thread_id=codex_id,
                            endpoint_key=relay.url,
                            team=TEAM,
                            channel=CHANNEL,
                            thread_ts=thread_ts,
                            started_by=USER,
                            created_at=time.time(),
                        )
                    )
                results: dict[str, Result] = {
                    label: Result(sizes[label], [], []) for label in sizes
                }
                # Rounds alternate between the threads, so drift hits both alike.
                for _ in range(args.rounds + 1):
                    for label in sizes:
                        first, older = await recap_once(
                            bot, slack, relay, slack_threads[label], args.limit
                        )
                        results[label].first.append(first)
                        results[label].older.append(older)
                for result in results.values():  # the first round warms caches: drop it
                    del result.first[0], result.older[0]

                async with CodexPool([Endpoint(url=relay.url)], request_timeout=120) as reader:
                    history = {
                        label: await full_history(reader, relay, ids[label]) for label in sizes
                    }
            finally:
                await bot.close()

    print()
    print(f"/recap of {args.limit} turns per page, median of {args.rounds} rounds")
    print(f"{'thread':<8}{'turns':>7}{'first page':>14}{'bytes':>10}{'Older':>12}{'bytes':>10}")
    for label, result in results.items():
        first, older = Result.median(result.first), Result.median(result.older)
        print(
            f"{label:<8}{result.turns:>7,}{first.seconds * 1000:>11.1f} ms{first.received:>10,}"
            f"{older.seconds * 1000:>9.1f} ms{older.received:>10,}"
        )
    small, big = results["small"], results["big"]
    for name, pick in (("first page", "first"), ("Older", "older")):
        s, b = Result.median(getattr(small, pick)), Result.median(getattr(big, pick))
        print(
            f"ratio big/small, {name:<10}  time {b.seconds / s.seconds:5.2f}x"
            f"   bytes {b.received / s.received:5.2f}x"
        )
    print()
    print("for contrast, the whole history through thread/turns/list (summary, 100 a page):")
    for label, sample in history.items():
        print(
            f"  {label:<6}{sizes[label]:>6,} turns  {sample.seconds * 1000:>9.1f} ms"
            f"  {sample.received:>12,} bytes"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=1000, help="turns of the big thread")
    parser.add_argument("--small", type=int, default=10, help="turns of the small thread")
    parser.add_argument("--rounds", type=int, default=5, help="recaps measured per thread")
    parser.add_argument("--limit", type=int, default=5, help="turns per recap page")
    args = parser.parse_args()
    if args.small <= args.limit:
        parser.error("--small must exceed --limit, so that an Older page exists")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

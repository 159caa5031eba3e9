"""What users see while the bot crashes, deploys, and Slack has a bad minute — measured.

Run: ``python -m bench.faults [--kills 5] [--deploy-turns 6] [--outage 60] [--outage-turns 10]``

Real bot processes (``python -m bot serve --http``, default settings: a 5 s heartbeat, a 20 s
drain) against the real pinned app-server with the scripted model, a private redis-server and
the Slack fake, two replicas sharing them. Three scenarios:

1. **Kills.** A turn streams one delta every 100 ms (``DRIP``); once its reply shows text,
   the replica running it gets SIGKILL. Measured: the time from the kill until the reply
   shows *new* text (a ``chat.update`` of the same message with more of the answer), p50 and
   max over ``--kills`` rounds (goal ≤ 10 s), and that every reply ends on its exact text.
   Baseline, same run: the gap between two consecutive edits of a reply nobody killed.
2. **Deploy.** ``--deploy-turns`` turns in flight on one replica, half of them ending within
   the drain window and half long after it; SIGTERM. Measured: time to exit (and its code),
   turns finished by the leaving replica, turns handed over, replies left without their exact
   final text (goal 0). Baseline: the exit time of an idle replica.
3. **Slack outage.** Every ``chat.update`` and ``chat.postMessage`` answers HTTP 500 for
   ``--outage`` seconds while ``--outage-turns`` turns end. Measured: finals lost (goal 0)
   and the time from the outage's end to the last final shown. Baseline: the same turns
   without an outage, from their end to their last final.

Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.recap import redis_url
from playground.model.scripted import ModelServer, drip_text
from playground.slack.api import SlackFake
from tests.conftest import PROJECT_ROOT
from tests.fakes.codex_server import CodexServer
from tests.integration.bot_harness import bot_replies, reply_text
from tests.integration.bot_process import BotProcess, bot_process_env

DRIP_MS = 100


def _codex_binary() -> Path:
    base = PROJECT_ROOT / ".tools" / "codex" / "node_modules" / "@openai"
    found = sorted(base.glob("codex-linux-*/vendor/*/bin/codex"))
    if not found:
        raise SystemExit("the pinned Codex CLI is missing; run scripts/bootstrap")
    return found[0]


class Bench:
    """The shared peers and the two replicas."""

    def __init__(self, slack: SlackFake, codex: CodexServer, redis: str, workdir: Path) -> None:
        self.slack = slack
        self.codex = codex
        self.redis = redis
        self.workdir = workdir
        self.replicas: list[BotProcess] = []

    async def replica(self, **settings: Any) -> BotProcess:
        env = bot_process_env(self.slack, self.codex, self.redis, **settings)
        bot = BotProcess(self.slack, env, self.workdir / f"bot-{len(self.replicas)}.log")
        self.replicas.append(bot)
        await bot.start()
        return bot

    async def close(self) -> None:
        for bot in self.replicas:
            await bot.close()

    def reply(self, thread_ts: str) -> dict[str, Any] | None:
        replies = [r for r in bot_replies(self.slack, thread_ts) if r.get("blocks")]
        return replies[0] if replies else None

    def shown(self, thread_ts: str) -> str:
        reply = self.reply(thread_ts)
        return reply_text(reply) if reply is not None else ""

    async def until(self, check: Callable[[], bool], timeout: float = 120) -> None:
        await self.slack.wait_for(check, timeout=timeout)


def _words_shown(bench: Bench, thread_ts: str, words: int) -> bool:
    return bench.shown(thread_ts).count("w") >= words


def _grew(bench: Bench, thread_ts: str, before: str) -> bool:
    """The reply shows more of the answer than ``before``."""
    now = bench.shown(thread_ts)
    return now != before and len(now) > len(before)


def _done(bench: Bench, thread_ts: str, expected: str) -> bool:
    reply = bench.reply(thread_ts)
    return (
        reply is not None
        and reply_text(reply) == expected
        and not any(b.get("type") == "actions" for b in reply.get("blocks") or [])
    )


async def kills(bench: Bench, rounds: int) -> tuple[list[float], list[float], int]:
    """SIGKILL the replica running a streaming turn; seconds until its reply moves again."""
    gaps: list[float] = []
    baseline: list[float] = []
    exact = 0
    for index in range(rounds):
        owner, survivor = bench.replicas[index % 2], bench.replicas[(index + 1) % 2]
        if not owner.running:
            await owner.start()
        if not survivor.running:
            await survivor.start()
        count = 200  # 20 s of answer: the takeover happens well inside it
        event = await owner.mention(f"DRIP {count} {DRIP_MS}")
        thread = event["ts"]
        await bench.until(partial(_words_shown, bench, thread, 5))
        # Baseline: the next change of a reply that nobody kills.
        before = bench.shown(thread)
        started = time.monotonic()
        await bench.until(partial(_grew, bench, thread, before))
        baseline.append(time.monotonic() - started)

        at_kill = bench.shown(thread)
        killed = time.monotonic()
        owner.kill()
        await owner.wait()
        await bench.until(partial(_grew, bench, thread, at_kill), timeout=60)
        gaps.append(time.monotonic() - killed)
        await bench.until(partial(_done, bench, thread, drip_text(count)), timeout=120)
        exact += 1
        print(f"  kill {index + 1}: moved again after {gaps[-1]:.2f} s", flush=True)
    return gaps, baseline, exact


async def deploy(bench: Bench, turns: int) -> dict[str, float]:
    """SIGTERM a replica with turns in flight; how it leaves and what becomes of them."""
    for bot in bench.replicas:
        if not bot.running:
            await bot.start()
    idle = await bench.replica()
    started = time.monotonic()
    idle.terminate()
    idle_code = await idle.wait(60)
    idle_exit = time.monotonic() - started

    leaving = bench.replicas[0]
    threads: list[tuple[str, int]] = []
    for index in range(turns):
        # Half end inside the 20 s drain (5 s of answer), half long after it (60 s).
        count = 50 if index % 2 == 0 else 600
        event = await leaving.mention(f"DRIP {count} {DRIP_MS}")
        threads.append((event["ts"], count))
    await bench.until(lambda: all(bench.shown(t).count("w") >= 3 for t, _ in threads))
    started = time.monotonic()
    leaving.terminate()
    code = await leaving.wait(60)
    exit_seconds = time.monotonic() - started
    finished_before_exit = sum(1 for t, c in threads if _done(bench, t, drip_text(c)))
    for thread, count in threads:
        await bench.until(partial(_done, bench, thread, drip_text(count)), timeout=180)
    frozen = sum(1 for t, c in threads if not _done(bench, t, drip_text(c)))
    return {
        "exit_code": code,
        "exit_seconds": exit_seconds,
        "idle_exit_code": idle_code,
        "idle_exit_seconds": idle_exit,
        "finished_by_leaver": finished_before_exit,
        "handed_over": turns - finished_before_exit,
        "frozen": frozen,
    }


async def outage(bench: Bench, turns: int, seconds: float) -> dict[str, float]:
    """Turns ending during a Slack 5xx window; finals lost, and delay after the window."""
    for bot in bench.replicas[:2]:
        if not bot.running:
            await bot.start()
    bots = bench.replicas[:2]

    async def run(with_outage: bool) -> tuple[int, float]:
        threads = []
        for index in range(turns):
            event = await bots[index % 2].mention(f"DRIP 30 {DRIP_MS}")
            threads.append(event["ts"])
        await bench.until(lambda: all(bench.reply(t) is not None for t in threads))
        window = bench.slack.fault(("chat.update", "chat.postMessage"), "http500")
        if not with_outage:
            window.end()
        else:
            await asyncio.sleep(seconds)  # the outage itself: a span of Slack time
            window.end()
        ended = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await bench.until(lambda: all(_done(bench, t, drip_text(30)) for t in threads), 300)
        lost = sum(1 for t in threads if not _done(bench, t, drip_text(30)))
        return lost, time.monotonic() - ended

    base_lost, base_delay = await run(False)
    lost, delay = await run(True)
    return {
        "lost": lost,
        "delay_after_outage": delay,
        "baseline_lost": base_lost,
        "baseline_delay": base_delay,
    }


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--deploy-turns", type=int, default=6)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--outage-turns", type=int, default=10)
    args = parser.parse_args(argv)
    ok = True
    with redis_url() as redis, tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        workdir = Path(tmp)
        async with ModelServer() as model, SlackFake() as slack:
            codex = CodexServer(_codex_binary(), model.base_url, workdir / "codex")
            async with codex:
                bench = Bench(slack, codex, redis, workdir)
                try:
                    await bench.replica()
                    await bench.replica()

                    print(f"1. kills ({args.kills} rounds, two replicas)", flush=True)
                    gaps, baseline, exact = await kills(bench, args.kills)
                    p50, worst = statistics.median(gaps), max(gaps)
                    normal = statistics.median(baseline)
                    print(
                        f"   kill -> reply moves again: p50 {p50:.2f} s, max {worst:.2f} s "
                        f"(goal <= 10 s); between two edits without a kill: p50 {normal:.2f} s "
                        f"-> ratio {p50 / normal:.1f}x; exact finals {exact}/{args.kills}"
                    )
                    ok &= worst <= 10 and exact == args.kills

                    print(f"2. deploy: SIGTERM with {args.deploy_turns} turns in flight")
                    d = await deploy(bench, args.deploy_turns)
                    print(
                        f"   exit {d['exit_code']:.0f} after {d['exit_seconds']:.2f} s "
                        f"(idle replica: exit {d['idle_exit_code']:.0f} after "
                        f"{d['idle_exit_seconds']:.2f} s, ratio "
                        f"{d['exit_seconds'] / d['idle_exit_seconds']:.1f}x); finished by the "
                        f"leaving replica {d['finished_by_leaver']:.0f}, handed over "
                        f"{d['handed_over']:.0f}, frozen replies {d['frozen']:.0f} (goal 0)"
                    )
                    ok &= d["exit_code"] == 0 and d["exit_seconds"] < 30 and d["frozen"] == 0

                    print(f"3. Slack 5xx for {args.outage:g} s, {args.outage_turns} turns")
                    o = await outage(bench, args.outage_turns, args.outage)
                    print(
                        f"   finals lost {o['lost']:.0f} (goal 0; without the outage "
                        f"{o['baseline_lost']:.0f}); last final {o['delay_after_outage']:.2f} s "
                        f"after the outage ended (without an outage, {o['baseline_delay']:.2f} s "
                        "after the same point)"
                    )
                    ok &= o["lost"] == 0
                finally:
                    model.release()
                    await bench.close()
    print("OK" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

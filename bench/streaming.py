"""Many concurrent turns streamed into Slack under the workspace's ``chat.update`` budget.

Run: ``python -m bench.streaming [--turns 50 200] [--scale 10] [--stream-seconds 60]``

For each N, N mentions arrive at once (signed HTTP POSTs to ``/slack/events``, one Slack
thread each, four threads per channel) at the real bot — :class:`bot.service.Service`,
the wiring ``codex-slack serve --http`` runs — whose peers are:

- the Slack fake (:mod:`tests.fakes.slack_api`) with Slack's Tier 3 limit on ``chat.update``
  (50 per minute per workspace) and its per-channel limit on ``chat.postMessage``;
- the in-process fake app-server (:mod:`tests.fakes.fake_app_server`), streaming each turn's
  scripted answer as ``--deltas`` deltas spread over ``--stream-seconds``, the first one
  ``--first-token`` seconds after the agent message item started;
- a private ``redis-server`` on a free port in a temporary directory, holding the bot's
  store and its shared :class:`bot.ratelimit.Budget` (50 per minute, burst 3, one second
  between two edits of a message: the bot's defaults).

**Time scale.** At Tier 3, 200 turns ending together need 200 final edits, about four
minutes of budget by themselves. To keep the run short, *Slack time* runs ``--scale`` times
faster than the wall clock: the Slack fake's rate limiter and the bot's budget both read a
clock ``scale`` times faster than ``time.monotonic()``, with their real per-minute numbers
unchanged, and the fake app-server streams a "one-minute" turn in ``60 / scale`` wall
seconds. Rates and budget-bound delays are reported in Slack time; the processing latencies
that no budget governs (mention to placeholder, the HTTP ack) in wall time. Compression makes
the measured process work ``scale`` times denser than in production, so the figures err on
the pessimistic side; ``--scale 1`` runs in real time.

Reported per N: ``chat.update`` calls in the busiest 60 s of Slack time (must stay within
the budget) and the 429s (goal: 0); mention to placeholder and first delta to the first edit
showing the agent's text (p50/p99); CPU per delta (this process's CPU time over the deltas
streamed: it also pays for the in-process fakes; the Redis server's CPU is shown apart);
every final text checked against the scripted answer, exactly (a mismatch raises); calls to the
budget's ``acquire`` per edit it granted (a refused call is a Redis round trip that edits
nothing). The exit status is 1 when a busiest minute exceeds the budget or any
``chat.update`` got a 429.

Baseline, measured in the same run: the same N turns through the same fakes answered the
simplest way — a ``CodexPool`` turn read to its end and one ``chat.postMessage`` with the
final text, no placeholder, no streaming, no Redis. The ratios say what streaming costs
(CPU per delta) and what it buys (time until the user sees anything).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.config import Settings
from bot.ratelimit import Budget, BudgetPolicy
from bot.service import Service
from codex_client import CodexPool, Endpoint
from tests.fakes.fake_app_server import FakeAppServer
from tests.fakes.model_server import long_text
from tests.fakes.slack_api import (
    RateLimit,
    SlackFake,
    app_mention_event,
    event_callback,
    next_ts,
    sign_request,
)

TIER3_PER_MINUTE = 50
"""Slack's Tier 3 (``chat.update``): about 50 calls per minute per workspace."""
POST_PER_MINUTE = 60
"""``chat.postMessage``: about one per second per channel, with short bursts."""
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench-bot-token"
TEAM = "T0001"
_PROMPT = re.compile(r"bench (\d+)")


# -- the clock ----------------------------------------------------------------------------


def slack_clock(scale: float) -> Callable[[], float]:
    """Slack time: ``time.monotonic()`` running ``scale`` times faster."""
    return lambda: time.monotonic() * scale


class ScaledBudget(Budget):
    """The bot's real :class:`Budget` (same Lua script, same Redis) on Slack time.

    Its clock is :func:`slack_clock`, so its per-minute numbers are Slack's; the waits it
    returns are converted back to wall seconds for the stream that sleeps on them. Counts
    every request and every grant (a 0.0 answer), to show how often streams ask per edit
    granted.
    """

    def __init__(self, redis: aioredis.Redis, policy: BudgetPolicy, scale: float) -> None:
        super().__init__(redis, policy, clock=slack_clock(scale))
        self.scale = scale
        self.asks = 0
        self.grants = 0

    async def acquire(self, team: str, stream_id: str, *, final: bool = False) -> float:
        self.asks += 1
        wait = await super().acquire(team, stream_id, final=final)
        self.grants += wait == 0
        return wait / self.scale


# -- peers --------------------------------------------------------------------------------


@dataclass
class RedisServer:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU the server has used so far (Linux ``/proc``; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def redis_server() -> AsyncIterator[RedisServer]:
    """A private ``redis-server`` on a free port, its files in a temporary directory."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (scripts/bootstrap installs it)")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", workdir),
            *("--save", "", "--appendonly", "no"),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        stdout = proc.stdout
        drain: asyncio.Task[None] | None = None
        try:
            # The server says when it listens: read up to that line instead of polling.
            while b"Ready to accept connections" not in (
                line := await asyncio.wait_for(stdout.readline(), 30)
            ):
                if not line:
                    raise SystemExit("redis-server exited at start")
            drain = asyncio.create_task(_drain(stdout))
            yield RedisServer(f"redis://127.0.0.1:{port}/0", proc.pid)
        finally:
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()
            if drain is not None:
                drain.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    # The pipe must keep flowing or the server blocks on its own logging.
    while await stream.readline():
        pass


def tier3_limits() -> dict[str, RateLimit]:
    """The Slack fake's limits, in Slack time.

    ``chat.update``: 50 per minute per workspace, in a bucket no deeper than the bot's own
    burst (3): the strictest Tier 3 a budget of 50 a minute can meet, stricter than Slack's
    ("50+ per minute, bursts allowed"), so any overspending shows up as a 429.
    ``chat.postMessage``: about one per second per channel, bursts of 10.
    """
    return {
        "chat.update": RateLimit(per_minute=TIER3_PER_MINUTE, burst=3, scope="workspace"),
        "chat.postMessage": RateLimit(per_minute=POST_PER_MINUTE, burst=10, scope="channel"),
    }


# -- the turns ----------------------------------------------------------------------------


@dataclass(eq=False)  # hashed by identity: trackers keep sets of pending turns
class Turn:
    """One mention and what became of it; times are wall ``time.monotonic()`` seconds."""

    index: int
    channel: str
    ts: str
    expected: str
    sent: float = 0.0
    acked: float | None = None
    placeholder_ts: str | None = None
    placeholder_at: float | None = None
    first_edit_at: float | None = None
    final_at: float | None = None
    final_posted: bool = False
    """The final went out as a new message (the edit lane was busy), the partial deleted."""
    first_delta_at: float | None = None
    edits: int = 0
    text_edits: int = 0
    """Intermediate edits that showed the agent's text (not the final, not the placeholder)."""
    noop_edits: int = 0
    """Edits that re-sent the placeholder: a budget token spent on nothing."""


@dataclass
class Config:
    turns: int
    scale: float
    stream_seconds: float
    deltas: int
    answer_chars: int
    per_channel: int
    first_token: float

    @property
    def delta_interval(self) -> float:
        """Wall seconds between two deltas of a turn, so it streams for ``stream_seconds``."""
        return self.stream_seconds / self.scale / max(1, self.deltas - 1)


def answer(index: int, chars: int) -> str:
    """The scripted answer of turn ``index``: markdown, ``chars`` long give or take half."""
    length = chars * (50 + (index * 37) % 101) // 100
    head = f"**Answer {index:04d}**\n\n"
    return head + long_text(max(1, length - len(head)))


def make_turns(config: Config) -> list[Turn]:
    """One top-level mention per turn, ``per_channel`` of them in each channel."""
    return [
        Turn(i, f"C{i // config.per_channel:05d}", next_ts(), answer(i, config.answer_chars))
        for i in range(config.turns)
    ]


def scripted_reply(turns: Sequence[Turn]) -> Callable[[str], str]:
    """The fake app-server's answer to a prompt ``bench <i>``: turn i's scripted answer."""

    def reply(prompt: str) -> str:
        match = _PROMPT.search(prompt)
        return turns[int(match.group(1))].expected if match else f"echo: {prompt}"

    return reply


def reply_text(params: dict[str, Any]) -> str:
    """What a message shows: its markdown blocks' text, else its ``text``."""
    blocks = params.get("blocks") or []
    texts = [
        b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "markdown"
    ]
    return "".join(texts) if texts else str(params.get("text", ""))


def has_stop_button(params: dict[str, Any]) -> bool:
    return any(
        isinstance(b, dict) and b.get("type") == "actions" for b in params.get("blocks") or []
    )


class Tracker:
    """Follows the Slack fake's record incrementally: placeholders, edits, finals, posts."""

    def __init__(self, slack: SlackFake, turns: Sequence[Turn], scale: float) -> None:
        self.slack = slack
        self.scale = scale
        self.by_thread = {(t.channel, t.ts): t for t in turns}
        self.by_reply: dict[tuple[str, str], Turn] = {}
        self.pending = set(self.by_thread.values())
        self._cursor = 0

    def all_done(self) -> bool:
        """Update from the calls recorded since the last look; True once every turn ended."""
        calls = self.slack.calls
        while self._cursor < len(calls):
            self._see(calls[self._cursor])
            self._cursor += 1
        return not self.pending

    def _see(self, call: dict[str, Any]) -> None:
        if call["status"] != 200 or not call["response"].get("ok"):
            return
        params, at = call["params"], call["timestamp"] / self.scale
        channel = str(params.get("channel"))
        if call["method"] == "chat.postMessage":
            turn = self.by_thread.get((channel, str(params.get("thread_ts"))))
            if turn is None:
                return
            if turn.placeholder_ts is not None:
                # A final that could not wait for an edit is posted as a new message.
                final = params.get("blocks") and not has_stop_button(params)
                if final and reply_text(params) == turn.expected:
                    turn.final_at, turn.final_posted = at, True
                    self.pending.discard(turn)
                return
            turn.placeholder_ts, turn.placeholder_at = str(call["response"]["ts"]), at
            self.by_reply[(channel, turn.placeholder_ts)] = turn
            if not params.get("blocks") and reply_text(params) == turn.expected:
                # The baseline's one post is its final text.
                turn.final_at = at
                self.pending.discard(turn)
        elif call["method"] == "chat.update":
            turn = self.by_reply.get((channel, str(params.get("ts"))))
            if turn is None:
                return
            turn.edits += 1
            text = reply_text(params)
            if text == render.THINKING:
                turn.noop_edits += 1
                return
            turn.first_edit_at = turn.first_edit_at or at
            if not has_stop_button(params) and text == turn.expected:
                turn.final_at = at
                self.pending.discard(turn)
            else:
                turn.text_edits += 1


def check_final_texts(slack: SlackFake, turns: Sequence[Turn], *, streamed: bool) -> int:
    """Check every thread reads exactly its scripted answer, with no Stop button left;
    raises on the first that does not, else returns how many were checked."""
    for turn in turns:
        replies = [
            m
            for m in slack.messages(turn.channel, thread_ts=turn.ts)
            if m.get("user") == slack.bot_user_id
        ]
        if "".join(reply_text(m) for m in replies) != turn.expected:
            raise AssertionError(f"turn {turn.index}: the thread does not read its answer")
        if any(has_stop_button(m) for m in replies):
            raise AssertionError(f"turn {turn.index}: the reply still has its Stop button")
        if streamed and not turn.final_posted and replies[0]["ts"] != turn.placeholder_ts:
            raise AssertionError(f"turn {turn.index}: the answer is not in the placeholder")
        if streamed and turn.final_posted and len(replies) != 1:
            raise AssertionError(f"turn {turn.index}: the partial reply was left behind")
    return len(turns)


# -- the two runs -------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    turns: list[Turn]
    deltas: int
    wall: float
    cpu: float
    redis_cpu: float
    updates: list[tuple[float, int]] = field(default_factory=list)
    """``chat.update`` calls: (Slack time, HTTP status)."""
    posts_429: int = 0
    budget_asks: int = 0
    budget_grants: int = 0
    exact: int = 0


async def run_bot(config: Config, redis: RedisServer) -> RunResult:
    """N mentions through the bot's real wiring; returns what the Slack fake saw."""
    await _flush(redis.url)
    turns = make_turns(config)
    clock = slack_clock(config.scale)
    async with (
        SlackFake(rate_limits=tier3_limits(), clock=clock) as slack,
        FakeAppServer(deltas=config.deltas) as codex,
    ):
        _script(codex, config, turns)
        settings = Settings(
            _env_file=None,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.url,
            codex_url=codex.url,
            codex_auth="none",
            redis_url=redis.url,
            host="127.0.0.1",
            slack_update_budget_per_minute=TIER3_PER_MINUTE,
        )
        service = Service(settings)
        budget = ScaledBudget(
            service.redis,
            BudgetPolicy(
                per_minute=settings.slack_update_budget_per_minute,
                min_interval=settings.slack_min_edit_interval_seconds,
            ),
            config.scale,
        )
        service.budget = budget  # the same Budget, on Slack time (see ScaledBudget)
        await service.start(socket_mode=False, port=0)
        tracker = Tracker(slack, turns, config.scale)
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{service.port}/slack/events"
                redis_cpu, cpu, wall = redis.cpu_seconds(), time.process_time(), time.monotonic()
                await asyncio.gather(*(_mention(http, url, slack, turn) for turn in turns))
                await slack.wait_for(tracker.all_done, timeout=_timeout(config))
                wall, cpu = time.monotonic() - wall, time.process_time() - cpu
                redis_cpu = redis.cpu_seconds() - redis_cpu
        finally:
            await service.close()
        _first_deltas(codex, turns)
        return RunResult(
            name="bot",
            turns=turns,
            deltas=sum(log.deltas for log in codex.turn_log),
            wall=wall,
            cpu=cpu,
            redis_cpu=redis_cpu,
            updates=[(c["timestamp"], c["status"]) for c in slack.calls_for("chat.update")],
            posts_429=sum(c["status"] == 429 for c in slack.calls_for("chat.postMessage")),
            budget_asks=budget.asks,
            budget_grants=budget.grants,
            exact=check_final_texts(slack, turns, streamed=True),
        )


async def _mention(http: aiohttp.ClientSession, url: str, slack: SlackFake, turn: Turn) -> None:
    event = app_mention_event(
        f"<@{slack.bot_user_id}> bench {turn.index:04d}",
        user=f"U{turn.index + 1:06d}",
        channel=turn.channel,
        ts=turn.ts,
        team=TEAM,
    )
    body = json.dumps(event_callback(event, team_id=TEAM)).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(sign_request(body, SIGNING_SECRET, int(time.time())))
    turn.sent = time.monotonic()
    async with http.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise AssertionError(f"mention {turn.index}: HTTP {response.status}")
    turn.acked = time.monotonic()


async def run_baseline(config: Config, redis: RedisServer) -> RunResult:
    """The same N turns answered by one ``chat.postMessage`` each, with no streaming."""
    turns = make_turns(config)
    async with (
        SlackFake(rate_limits=tier3_limits(), clock=slack_clock(config.scale)) as slack,
        FakeAppServer(deltas=config.deltas) as codex,
        CodexPool([Endpoint(codex.url)], request_timeout=60) as pool,
    ):
        _script(codex, config, turns)
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.url)
        tracker = Tracker(slack, turns, config.scale)
        redis_cpu, cpu, wall = redis.cpu_seconds(), time.process_time(), time.monotonic()

        async def direct(turn: Turn) -> None:
            turn.sent = time.monotonic()
            thread = await pool.start_thread()
            handle = await thread.start_turn(f"bench {turn.index:04d}")
            async for _event in handle.events():
                pass  # every event is read and typed, as in the bot; nothing is shown yet
            result = await handle.wait()
            await client.chat_postMessage(
                channel=turn.channel, thread_ts=turn.ts, text=result.final_text
            )

        await asyncio.gather(*(direct(turn) for turn in turns))
        await slack.wait_for(tracker.all_done, timeout=_timeout(config))
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        redis_cpu = redis.cpu_seconds() - redis_cpu
        _first_deltas(codex, turns)
        return RunResult(
            name="baseline",
            turns=turns,
            deltas=sum(log.deltas for log in codex.turn_log),
            wall=wall,
            cpu=cpu,
            redis_cpu=redis_cpu,
            posts_429=sum(c["status"] == 429 for c in slack.calls_for("chat.postMessage")),
            exact=check_final_texts(slack, turns, streamed=False),
        )


def _script(codex: FakeAppServer, config: Config, turns: Sequence[Turn]) -> None:
    codex.reply = scripted_reply(turns)
    codex.delta_interval = config.delta_interval
    codex.first_delta_delay = config.first_token / config.scale


def _first_deltas(codex: FakeAppServer, turns: Sequence[Turn]) -> None:
    for log in codex.turn_log:
        match = _PROMPT.search(log.prompt)
        if match:
            turns[int(match.group(1))].first_delta_at = log.first_delta


def _timeout(config: Config) -> float:
    """Wall seconds a run may take: the streaming, every final edit at Tier 3, and slack."""
    finals = config.turns / TIER3_PER_MINUTE * 60
    return 60 + 3 * (config.stream_seconds + finals) / config.scale


async def _flush(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


# -- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def busiest_minute(times: Sequence[float]) -> int:
    """The most calls in any 60-second window of Slack time."""
    ordered, best, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 60:
            start += 1
        best = max(best, end - start + 1)
    return best


def _row(label: str, unit: str, values: Sequence[float], scale: float, extra: str = "") -> None:
    p50, p99 = (percentile(values, q) * scale for q in (50, 99)) if values else (math.nan,) * 2
    print(f"  {label:<28}{unit:<10}{p50:>10.1f}{p99:>10.1f}  {extra}".rstrip())


def report(config: Config, bot: RunResult, base: RunResult) -> None:
    """Print one N's figures: budget, 429s, latencies, CPU, exactness; bot beside baseline."""
    n, s = config.turns, config.scale
    statuses = [status for _, status in bot.updates]
    busiest = busiest_minute([at for at, _ in bot.updates])
    span = (max(at for at, _ in bot.updates) - min(at for at, _ in bot.updates)) / 60
    streamed = sum(t.text_edits > 0 for t in bot.turns)
    noop = sum(t.noop_edits for t in bot.turns)
    bot_final = [t.final_at - t.sent for t in bot.turns if t.final_at is not None]
    base_final = [t.final_at - t.sent for t in base.turns if t.final_at is not None]
    bot_cpu, base_cpu = bot.cpu / bot.deltas * 1e6, base.cpu / base.deltas * 1e6
    verdict = "within budget" if busiest <= TIER3_PER_MINUTE else "OVER BUDGET"

    print(
        f"\n== N = {n}: {bot.deltas:,} deltas in {-(-n // config.per_channel)} channels; ", end=""
    )
    print(f"wall {bot.wall:.1f} s (baseline {base.wall:.1f} s)")
    print(
        f"  chat.update per Slack minute: busiest {busiest} (budget {TIER3_PER_MINUTE}: {verdict}),"
        f" mean {len(statuses) / max(span, 1e-9):.1f} over {span:.1f} min;"
        f" {statuses.count(200)} edits"
    )
    print(f"  429s: chat.update {statuses.count(429)}, chat.postMessage {bot.posts_429}")
    posted = sum(t.final_posted for t in bot.turns)
    print(f"  finals posted as new messages (edit lane busy > 2 s): {posted}/{n}")
    print(
        f"  {streamed}/{n} turns showed text before their final edit; placeholder re-sent "
        f"{noop} times; {bot.budget_asks / max(1, statuses.count(200)):.1f} budget asks per edit"
    )
    print(
        f"  budget: {bot.budget_asks:,} acquire calls, {bot.budget_grants:,} granted: "
        f"{bot.budget_asks / max(1, bot.budget_grants):.1f} acquire calls per granted edit"
    )
    print(f"  {'':<28}{'':<10}{'p50':>10}{'p99':>10}")
    _row("event ack (HTTP 200)", "wall ms", [t.acked - t.sent for t in bot.turns if t.acked], 1e3)
    placeholder = [t.placeholder_at - t.sent for t in bot.turns if t.placeholder_at]
    _row("mention -> placeholder", "wall ms", placeholder, 1e3)
    first_edit = [
        t.first_edit_at - t.first_delta_at
        for t in bot.turns
        if t.first_edit_at is not None and t.first_delta_at is not None
    ]
    _row("first delta -> first edit", "Slack s", first_edit, s)
    ratio = percentile(bot_final, 50) / percentile(base_final, 50)
    _row("mention -> final text: bot", "Slack s", bot_final, s)
    _row("  baseline (direct post)", "Slack s", base_final, s, f"bot/baseline p50 {ratio:.2f}")
    print(
        f"  {'CPU per delta':<28}{'us':<10}{bot_cpu:>10.1f}  baseline {base_cpu:.1f},"
        f" bot/baseline {bot_cpu / base_cpu:.2f}"
    )
    print(
        f"  {'redis-server CPU':<28}{'s':<10}{bot.redis_cpu:>10.2f}  baseline {base.redis_cpu:.2f}"
    )
    print(f"  final texts exact: bot {bot.exact}/{n}, baseline {base.exact}/{n}")


async def bench(configs: Sequence[Config]) -> int:
    first = configs[0]
    print(
        f"Slack time runs {first.scale:g}x the wall clock: one Slack minute = "
        f"{60 / first.scale:.1f} s of wall time.\n"
        f"Slack fake: chat.update {TIER3_PER_MINUTE}/min per workspace (Tier 3), chat.postMessage "
        f"{POST_PER_MINUTE}/min per channel; bot budget {TIER3_PER_MINUTE}/min, burst 3, 1 s "
        f"between edits of a message.\n"
        f"Each turn: first delta after {first.first_token:g} s, then {first.deltas} deltas over "
        f"{first.stream_seconds:g} s of Slack time; answers ~{first.answer_chars} chars (+-50%)."
    )
    failures = 0
    async with redis_server() as redis:
        for config in configs:
            base = await run_baseline(config, redis)
            bot = await run_bot(config, redis)
            report(config, bot, base)
            limited = sum(status == 429 for _, status in bot.updates)
            if busiest_minute([at for at, _ in bot.updates]) > TIER3_PER_MINUTE or limited:
                failures += 1
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--scale", type=float, default=10.0, help="Slack time / wall time")
    parser.add_argument("--stream-seconds", type=float, default=60.0, help="per turn, Slack time")
    parser.add_argument("--deltas", type=int, default=300, help="deltas per turn")
    parser.add_argument("--answer-chars", type=int, default=2400)
    parser.add_argument("--per-channel", type=int, default=4, help="threads per channel")
    parser.add_argument(
        "--first-token", type=float, default=3.0, help="model's time to first delta, Slack time"
    )
    args = parser.parse_args(argv)
    configs = [
        Config(
            n,
            args.scale,
            args.stream_seconds,
            args.deltas,
            args.answer_chars,
            args.per_channel,
            args.first_token,
        )
        for n in args.turns
    ]
    return asyncio.run(bench(configs))


if __name__ == "__main__":
    sys.exit(main())

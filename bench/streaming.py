"""Many concurrent turns streamed into Slack, by native streams (``auto``) and by edits (``edit``).

Run: ``python -m bench.streaming [--turns 1 10 50 200] [--scale 10] [--stream-seconds 60]``

For each N, N mentions arrive at once (signed HTTP POSTs to ``/slack/events``, one Slack
thread each, ``--per-channel`` threads per channel) at the real bot —
:class:`bot.service.Service`, the wiring ``codex-slack serve --http`` runs — once per
delivery mode, in the same run:

- ``auto`` (``SLACK_DELIVERY=auto``, the default): a reply opens a native stream
  (``chat.startStream``/``appendStream``/``stopStream``) when the start lane has a token at
  once, else it goes as in ``edit``;
- ``edit`` (``SLACK_DELIVERY=edit``, the baseline): a posted message edited by ``chat.update``;
- and, for scale, ``direct``: the same turns answered the simplest way, a ``CodexPool`` turn
  read to its end and one ``chat.postMessage`` of the final text (no bot, no Redis).

Both bot modes show the thread's status (``assistant.threads.setStatus``) until the first
text, then open the reply with it; with no text within ``SLACK_FIRST_POST_SECONDS`` they open
it anyway (an empty stream, or a "Thinking…" placeholder) and the first text comes after.
The bot's peers:

- the Slack fake (:mod:`playground.slack.api`) with Slack's rate windows as
  :data:`playground.slack.rules.DEFAULT_RATE_LIMITS` has them: ``chat.update`` and
  ``chat.delete`` 50/min, ``chat.postMessage`` 60/min per channel, ``chat.startStream`` and
  ``chat.stopStream`` 20/min, ``chat.appendStream`` 100/min, ``assistant.threads.setStatus``
  600/min (per workspace unless said), each bucket a minute deep (``chat.postMessage``: 10),
  so a 429 means a minute's window overspent; and its stream expiry (5 min open, 30 s idle);
- the in-process fake app-server (:mod:`tests.fakes.fake_app_server`), streaming each turn's
  scripted answer as ``--deltas`` deltas spread over ``--stream-seconds``, the first one
  ``--first-token`` seconds after the agent message item started;
- a private ``redis-server`` (found on ``PATH``) on a free port in a temporary directory,
  holding the bot's store and its delivery lanes (:class:`bot.lanes.Lanes`: one
  :class:`bot.ratelimit.Budget` per Slack method, with the bot's default numbers).

**Time scale.** *Slack time* runs ``--scale`` times faster than the wall clock, so that 200
turns and the minutes of rate windows they need fit in a short run. Everything that stands
for Slack's clock reads ``time.monotonic() * scale``: the Slack fake (its rate limiter, its
stream expiry, the timestamps it records) and every lane's budget (built on that clock, with
their real per-minute numbers; the waits they return are divided by ``scale`` back into wall
seconds, for the bot to sleep on). The bot's own Slack-facing durations are divided by
``scale`` too: the first-post delay, the stream rotation age, the final's retry window, and
``StreamLimits.final_edit_wait`` (how long a final waits for an edit or stop token before it
is posted anew). The fake app-server streams a "one-minute" turn in ``60 / scale`` wall
seconds. Not scaled: an HTTP 429's ``Retry-After`` slept by slack-sdk's retry of
``chat.postMessage`` (wall seconds, so ``scale`` times too long: it only matters after a
429), and everything that no Slack window governs (processing, Redis, HTTP).

Figures are in Slack time unless marked *wall*. Compression makes the process work ``scale``
times denser than in production and magnifies every event-loop lag ``scale`` times in Slack
time, so the latencies err on the pessimistic side; ``--scale 1`` runs in real time.

Reported per N, each ``auto`` figure beside ``edit``'s with their ratio (auto/edit):

- event ack (*wall* ms): the bot's HTTP answer to each signed event POST, p50/p99;
- first delta → first text: from the fake app-server's first delta of a turn to the first
  Slack call that showed any of the agent's text (a post, a stream start or append, an
  edit), p50/p99;
- longest gap per reply: the longest time the reply's visible agent text stood still, from
  the turn's first delta to the final text (a reply showing nothing until its final has one
  gap, the whole turn); p50/p99 and max over the replies;
- turn end → final: from the fake's ``turn/completed`` to the call that made the exact final
  text visible (the last call that wrote a message the thread keeps: a ``chat.stopStream``,
  a ``chat.update`` or a ``chat.postMessage``), p50/p99;
- finals posted anew (an edit or stop token did not come within ``final_edit_wait``) and how
  long their partial stayed in the thread beside the final, until its ``chat.delete``;
- finals exact: replies whose thread, its messages read back to back (deleted ones left out),
  is exactly the scripted answer, with no stream left open and no Stop button;
- per Slack method: calls accepted, 429s, and the busiest 60 s of accepted calls (per
  channel for ``chat.postMessage``) against the window;
- turn length (the fake's first delta to its ``turn/completed``, against ``--stream-seconds``):
  how far the process's own load stretched the turns (event-loop lag, times ``scale``);
- CPU per delta (this process's CPU over the deltas streamed; it also pays for the in-process
  fakes) and the Redis server's CPU;
- how replies were delivered (native streams, placeholders, streams left or expired), the
  Slack errors other than 429, and the bot's warnings and errors, by message.

Goals are printed beside the figures, not enforced. The exit status is 1 when any reply's
final is not exact (any mode) or any Slack method answered 429 in ``auto`` mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.config import Settings
from bot.lanes import Lane, Lanes
from bot.ratelimit import Budget, BudgetPolicy
from bot.service import Service
from bot.streaming import StreamLimits
from bot.turns import TurnRunner
from codex_client import CodexPool, Endpoint
from playground.model.scripted import long_text
from playground.slack.api import (
    SlackFake,
    app_mention_event,
    event_callback,
    next_ts,
    sign_request,
)
from playground.slack.rules import DEFAULT_RATE_LIMITS
from tests.fakes.fake_app_server import FakeAppServer, TurnLog

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench-bot-token"
TEAM = "T0001"
_PROMPT = re.compile(r"bench (\d+)")

Mode = Literal["auto", "edit", "direct"]
BOT_MODES: tuple[Mode, Mode] = ("auto", "edit")

METHODS: tuple[Lane, ...] = (
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "assistant.threads.setStatus",
)
"""The Slack methods a reply writes through (one lane each)."""
_WRITES = frozenset(
    {"chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"}
)
"""Calls that change what a message shows."""
_STREAM_CALLS = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})
_OPENERS = frozenset({"chat.startStream", "chat.appendStream"})
"""Calls after which a stream is still open: a message last written by one was never closed."""


# -- the clock ----------------------------------------------------------------------------


def slack_clock(scale: float) -> Callable[[], float]:
    """Slack time: ``time.monotonic()`` running ``scale`` times faster."""
    return lambda: time.monotonic() * scale


class ScaledBudget(Budget):
    """One of the bot's real budgets (same Lua script, same Redis keys) on Slack time.

    Its clock is :func:`slack_clock`, so its per-minute numbers are Slack's; the waits it
    returns are converted back to wall seconds for the reply that sleeps on them. Counts every
    request and every grant (a 0.0 answer).
    """

    def __init__(
        self, redis: aioredis.Redis, policy: BudgetPolicy, *, lane: str, scale: float
    ) -> None:
        super().__init__(redis, policy, lane=lane, clock=slack_clock(scale))
        self.scale = scale
        self.asks = 0
        self.grants = 0

    async def acquire(self, team: str, stream_id: str, *, final: bool = False) -> float:
        self.asks += 1
        wait = await super().acquire(team, stream_id, final=final)
        self.grants += wait == 0
        return wait / self.scale


class ScaledLanes(Lanes):
    """The bot's :class:`Lanes` with every lane's budget a :class:`ScaledBudget`.

    Built from the lanes a :class:`Service` made (same per-minute numbers, same minimum
    interval), so the bench follows the wiring; each budget keeps its policy and key names.
    """

    def __init__(self, original: Lanes, redis: aioredis.Redis, scale: float) -> None:
        update = original.budget("chat.update").policy
        per_minute = {str(lane): limit for lane, limit in original.per_minute.items()}
        super().__init__(
            redis, per_minute, min_interval=update.min_interval, clock=slack_clock(scale)
        )
        self.scaled = {
            lane: ScaledBudget(redis, budget.policy, lane=budget.lane, scale=scale)
            for lane, budget in self._budgets.items()
        }
        self._budgets.update(self.scaled)


def scale_bot(service: Service, scale: float) -> ScaledLanes:
    """Put a service's lanes on Slack time (before :meth:`Service.start` hands them over)."""
    lanes = ScaledLanes(service.lanes, service.redis, scale)
    service.lanes = lanes
    return lanes


def scale_final_wait(service: Service, scale: float) -> None:
    """``StreamLimits.final_edit_wait`` is a wall-clock wait in the bot; put it on Slack time
    (after :meth:`Service.start`, which builds the runner, and before any mention)."""
    assert service.bridge is not None
    runner = service.bridge.runner
    assert isinstance(runner, TurnRunner)
    wait = StreamLimits().final_edit_wait / scale
    runner.limits = dataclasses.replace(runner.limits, final_edit_wait=wait)


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


class LogTally(logging.Handler):
    """Counts the warnings and errors logged during a run, by logger and message template."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.levelname} {record.name}: {record.msg}"
        if record.exc_info and record.exc_info[0] is not None:
            key += f" [{record.exc_info[0].__name__}]"
        self.counts[key] += 1
        self.examples.setdefault(key, record.getMessage())

    @contextlib.contextmanager
    def attached(self) -> Iterator[LogTally]:
        root = logging.getLogger()
        root.addHandler(self)
        try:
            yield self
        finally:
            root.removeHandler(self)


# -- the turns ----------------------------------------------------------------------------


@dataclass(eq=False)
class Turn:
    """One mention; ``sent``/``acked`` are wall ``time.monotonic()`` seconds, the rest are
    Slack time (``monotonic() * scale``), as the Slack fake records its calls."""

    index: int
    channel: str
    ts: str
    expected: str
    sent: float = 0.0
    acked: float | None = None
    first_delta: float | None = None
    completed: float | None = None


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

    @property
    def channels(self) -> int:
        return -(-self.turns // self.per_channel)


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


def _script(codex: FakeAppServer, config: Config, turns: Sequence[Turn]) -> None:
    codex.reply = scripted_reply(turns)
    codex.delta_interval = config.delta_interval
    codex.first_delta_delay = config.first_token / config.scale


def _turn_times(logs: Sequence[TurnLog], turns: Sequence[Turn], scale: float) -> None:
    """Each turn's first delta and end, from the fake app-server's log, in Slack time."""
    for log in logs:
        match = _PROMPT.search(log.prompt)
        if match:
            turn = turns[int(match.group(1))]
            turn.first_delta = None if log.first_delta is None else log.first_delta * scale
            turn.completed = None if log.completed is None else log.completed * scale


def _completed(logs: Sequence[TurnLog]) -> int:
    return sum(log.completed is not None for log in logs)


# -- the runs -----------------------------------------------------------------------------


@dataclass
class RunResult:
    """What one mode's run left: the Slack fake's record and the process's costs."""

    mode: Mode
    turns: list[Turn]
    calls: list[dict[str, Any]]
    threads: dict[str, list[dict[str, Any]]]
    """Each turn's thread as the fake shows it at the end (bot messages, deleted ones gone),
    by the thread's ts."""
    bot_user: str
    deltas: int
    wall: float
    cpu: float
    redis_cpu: float
    unfinished: int = 0
    """Turns the bot was still working on when the run's time was up."""
    update_asks: int = 0
    update_grants: int = 0
    logs: LogTally = field(default_factory=LogTally)


def bot_settings(
    config: Config, slack: SlackFake, codex: FakeAppServer, redis: RedisServer, mode: Mode
) -> Settings:
    """The bot's settings: defaults, but its Slack-facing durations on Slack time."""
    s = config.scale

    def default(name: str) -> float:
        return float(Settings.model_fields[name].default)

    return Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
        codex_url=codex.url,
        codex_auth="none",
        redis_url=redis.url,
        host="127.0.0.1",
        slack_delivery=mode,
        slack_thread_status=True,
        slack_first_post_seconds=default("slack_first_post_seconds") / s,
        slack_stream_rotate_seconds=default("slack_stream_rotate_seconds") / s,
        slack_retry_seconds=default("slack_retry_seconds") / s,
    )


async def run_bot(config: Config, redis: RedisServer, mode: Mode) -> RunResult:
    """N mentions through the bot's real wiring in one delivery mode."""
    await _flush(redis.url)
    turns = make_turns(config)
    tally = LogTally()
    async with (
        SlackFake(rate_limits=DEFAULT_RATE_LIMITS, clock=slack_clock(config.scale)) as slack,
        FakeAppServer(deltas=config.deltas) as codex,
    ):
        _script(codex, config, turns)
        service = Service(bot_settings(config, slack, codex, redis, mode))
        lanes = scale_bot(service, config.scale)
        await service.start(socket_mode=False, port=0)
        scale_final_wait(service, config.scale)
        unfinished = 0
        try:
            with tally.attached():
                connector = aiohttp.TCPConnector(limit=0)  # no client-side queue for the acks
                async with aiohttp.ClientSession(connector=connector) as http:
                    url = f"http://127.0.0.1:{service.port}/slack/events"
                    redis_cpu = redis.cpu_seconds()
                    cpu, wall = time.process_time(), time.monotonic()
                    await asyncio.gather(*(_mention(http, url, slack, turn) for turn in turns))

                    def done() -> bool:
                        return _completed(codex.turn_log) == len(turns) and not len(service.tasks)

                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_timeout(config)):
                            # Nothing signals the end of the bot's tasks: look every 20 ms
                            # (the figures come from recorded timestamps, not from this loop).
                            while not done():  # noqa: ASYNC110
                                await asyncio.sleep(0.02)
                    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
                    redis_cpu = redis.cpu_seconds() - redis_cpu
                    unfinished = max(len(service.tasks), len(turns) - _completed(codex.turn_log))
                    # Read now: the fake closes idle streams lazily, on its clock, when read.
                    threads = {t.ts: slack.messages(t.channel, thread_ts=t.ts) for t in turns}
        finally:
            await service.close()
        _turn_times(codex.turn_log, turns, config.scale)
        update = lanes.scaled["chat.update"]
        return RunResult(
            mode=mode,
            turns=turns,
            calls=list(slack.calls),
            threads=threads,
            bot_user=slack.bot_user_id,
            deltas=sum(log.deltas for log in codex.turn_log),
            wall=wall,
            cpu=cpu,
            redis_cpu=redis_cpu,
            unfinished=unfinished,
            update_asks=update.asks,
            update_grants=update.grants,
            logs=tally,
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


async def run_direct(config: Config, redis: RedisServer) -> RunResult:
    """The same N turns answered by one ``chat.postMessage`` each, with no streaming."""
    turns = make_turns(config)
    async with (
        SlackFake(rate_limits=DEFAULT_RATE_LIMITS, clock=slack_clock(config.scale)) as slack,
        FakeAppServer(deltas=config.deltas) as codex,
        CodexPool([Endpoint(codex.url)], request_timeout=60) as pool,
    ):
        _script(codex, config, turns)
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.url)
        redis_cpu, cpu, wall = redis.cpu_seconds(), time.process_time(), time.monotonic()

        async def direct(turn: Turn) -> None:
            turn.sent = time.monotonic()
            thread = await pool.start_thread()
            handle = await thread.start_turn(f"bench {turn.index:04d}")
            async for _event in handle.events():
                pass  # every event is read and typed, as in the bot; nothing is shown yet
            result = await handle.wait()
            await client.chat_postMessage(
                channel=turn.channel,
                thread_ts=turn.ts,
                text=render.fallback_text(result.final_text),
                blocks=render.reply_blocks(result.final_text),
            )

        await asyncio.gather(*(direct(turn) for turn in turns))
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        redis_cpu = redis.cpu_seconds() - redis_cpu
        _turn_times(codex.turn_log, turns, config.scale)
        return RunResult(
            mode="direct",
            turns=turns,
            calls=list(slack.calls),
            threads={t.ts: slack.messages(t.channel, thread_ts=t.ts) for t in turns},
            bot_user=slack.bot_user_id,
            deltas=sum(log.deltas for log in codex.turn_log),
            wall=wall,
            cpu=cpu,
            redis_cpu=redis_cpu,
        )


def _timeout(config: Config) -> float:
    """Wall seconds a run may take: the streaming, every final edited (or posted anew and its
    partial deleted) at 50/min, and slack."""
    finals = 2 * config.turns / 50 * 60  # a final and a partial's delete each, at worst
    return 60 + 3 * (config.first_token + config.stream_seconds + finals) / config.scale


async def _flush(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


# -- reading the record -------------------------------------------------------------------


def reply_text(params: Mapping[str, Any]) -> str:
    """What a message shows: its markdown blocks' text, else its ``text``."""
    blocks = params.get("blocks") or []
    texts = [
        str(b.get("text", ""))
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "markdown"
    ]
    return "".join(texts) if texts else str(params.get("text", ""))


def has_stop_button(params: Mapping[str, Any]) -> bool:
    return any(
        isinstance(b, dict) and b.get("type") == "actions" for b in params.get("blocks") or []
    )


def call_text(call: Mapping[str, Any]) -> str:
    """The text a write call shows: the whole message for a post or an edit, the part it adds
    for a stream call."""
    params = call["params"]
    if call["method"] not in _STREAM_CALLS:
        return reply_text(params)
    chunks = params.get("chunks") or []
    added = [
        str(c.get("text", ""))
        for c in chunks
        if isinstance(c, dict) and c.get("type") == "markdown_text"
    ]
    return str(params.get("markdown_text") or "") + "".join(added)


@dataclass
class Reply:
    """One turn's reply as read from the record; times are Slack seconds."""

    turn: Turn
    shown: list[float] = field(default_factory=list)
    """When a call changed the agent text the reply shows."""
    final_at: float | None = None
    exact: bool = False
    why: str = ""
    native: bool = False
    empty_start: bool = False
    """Its stream was opened before any text (at the first-post deadline)."""
    placeholder: bool = False
    """It posted a placeholder (no text by the first-post deadline)."""
    edited_stream: bool = False
    """A stream message of the reply was edited afterwards (the reply left its stream)."""
    expired: bool = False
    deleted_at: float | None = None
    """When its last deleted message went (a final posted anew replaced the partial)."""

    @property
    def first_text(self) -> float | None:
        return min(self.shown) if self.shown else None

    @property
    def longest_gap(self) -> float | None:
        """The longest time the shown text stood still, from the first delta to the final."""
        start, end = self.turn.first_delta, self.final_at
        if start is None or end is None:
            return None
        times = sorted([start, end, *(at for at in self.shown if start <= at <= end)])
        return max(b - a for a, b in itertools.pairwise(times))

    @property
    def partial_left(self) -> float | None:
        """How long a partial stayed beside the final posted anew, until it was deleted."""
        if self.deleted_at is None or self.final_at is None:
            return None
        return max(0.0, self.deleted_at - self.final_at)


def read_replies(run: RunResult) -> list[Reply]:
    """Each turn's reply, from the fake's calls and the threads it shows at the end."""
    replies = {(t.channel, t.ts): Reply(t) for t in run.turns}
    owner: dict[tuple[str, str], Reply] = {}
    """Which reply each bot message belongs to, by (channel, ts)."""
    stream_ts: set[tuple[str, str]] = set()
    last_write: dict[tuple[str, str], tuple[float, str]] = {}
    """The last call that wrote each message: when, and which method."""
    for call in run.calls:
        if call["status"] != 200 or not call["response"].get("ok"):
            continue
        method, params, at = call["method"], call["params"], float(call["timestamp"])
        channel = str(params.get("channel"))
        if method in ("chat.postMessage", "chat.startStream"):
            reply = replies.get((channel, str(params.get("thread_ts"))))
            if reply is None:
                continue
            key = (channel, str(call["response"]["ts"]))
            owner[key] = reply
            if method == "chat.startStream":
                stream_ts.add(key)
                reply.native = True
        else:
            key = (channel, str(params.get("ts")))
            reply = owner.get(key)
            if reply is None:
                continue
        if method == "chat.delete":
            reply.deleted_at = at
            continue
        if method not in _WRITES:
            continue
        last_write[key] = (at, method)
        if method == "chat.update" and key in stream_ts:
            reply.edited_stream = True
        text = call_text(call)
        reply.placeholder |= method == "chat.postMessage" and text == render.THINKING
        reply.empty_start |= method == "chat.startStream" and not text
        if text and text != render.THINKING and text in reply.turn.expected:
            reply.shown.append(at)
    for reply in replies.values():
        turn = reply.turn
        kept = [m for m in run.threads[turn.ts] if m.get("user") == run.bot_user]
        reply.expired = any(m.get("stream_expired") for m in kept)
        if not kept:
            reply.why = "no reply"
        elif "".join(reply_text(m) for m in kept) != turn.expected:
            reply.why = "text differs"
        elif any(
            m.get("streaming") or last_write[(turn.channel, str(m["ts"]))][1] in _OPENERS
            for m in kept
        ):
            reply.why = "stream left open"  # still streaming, or expired, never stopped
        elif any(has_stop_button(m) for m in kept):
            reply.why = "Stop button left"
        else:
            reply.exact = True
            reply.final_at = max(last_write[(turn.channel, str(m["ts"]))][0] for m in kept)
    return list(replies.values())


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for an empty sample."""
    if not values:
        return math.nan
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


@dataclass
class Figures:
    """One mode's figures for one N."""

    run: RunResult
    replies: list[Reply]
    ack_ms: list[float]
    first_text: list[float]
    gaps: list[float]
    partials: list[float]
    finals: list[float]
    exact: int
    calls: dict[str, int]
    limited: dict[str, int]
    busiest: dict[str, int]
    errors: Counter[str]

    @property
    def cpu_per_delta_us(self) -> float:
        return self.run.cpu / max(1, self.run.deltas) * 1e6

    @property
    def turn_lengths(self) -> list[float]:
        """How long the fake app-server took to stream each turn (event-loop lag shows)."""
        return [
            t.completed - t.first_delta
            for t in self.run.turns
            if t.completed is not None and t.first_delta is not None
        ]

    @property
    def total_429(self) -> int:
        return sum(self.limited.values())


def figures(run: RunResult) -> Figures:
    replies = read_replies(run)
    calls: dict[str, int] = dict.fromkeys(METHODS, 0)
    limited: dict[str, int] = dict.fromkeys(METHODS, 0)
    accepted: dict[str, dict[str, list[float]]] = {m: {} for m in METHODS}
    errors: Counter[str] = Counter()
    for call in run.calls:
        method = call["method"]
        if call["status"] == 429:
            limited[method] = limited.get(method, 0) + 1
        elif call["status"] == 200 and call["response"].get("ok"):
            calls[method] = calls.get(method, 0) + 1
            scope = str(call["params"].get("channel")) if method == "chat.postMessage" else ""
            accepted.setdefault(method, {}).setdefault(scope, []).append(call["timestamp"])
        else:
            errors[f"{method}: {call['response'].get('error') or call['status']}"] += 1
    busiest = {
        method: max((busiest_minute(times) for times in scopes.values()), default=0)
        for method, scopes in accepted.items()
    }
    return Figures(
        run=run,
        replies=replies,
        ack_ms=[(t.acked - t.sent) * 1e3 for t in run.turns if t.acked is not None],
        first_text=[
            r.first_text - r.turn.first_delta
            for r in replies
            if r.first_text is not None and r.turn.first_delta is not None
        ],
        gaps=[gap for r in replies if (gap := r.longest_gap) is not None],
        partials=[left for r in replies if (left := r.partial_left) is not None],
        finals=[
            r.final_at - r.turn.completed
            for r in replies
            if r.final_at is not None and r.turn.completed is not None
        ],
        exact=sum(r.exact for r in replies),
        calls=calls,
        limited=limited,
        busiest=busiest,
        errors=errors,
    )


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    text: str
    met: Callable[[Figures], bool]


def goals(n: int) -> dict[str, Goal]:
    """The goals of issue 10 for ``n`` concurrent turns, by figure."""
    found = {"ack": Goal("p99 <= 50 ms", lambda f: percentile(f.ack_ms, 99) <= 50)}
    if n == 10:
        found["first"] = Goal("p99 <= 2 s", lambda f: percentile(f.first_text, 99) <= 2)
        found["final"] = Goal("p99 <= 2 s", lambda f: percentile(f.finals, 99) <= 2)
    elif n == 50:
        found["first"] = Goal("p99 <= 5 s", lambda f: percentile(f.first_text, 99) <= 5)
        found["final"] = Goal("p99 <= 5 s", lambda f: percentile(f.finals, 99) <= 5)
        found["gap"] = Goal("max <= 30 s", lambda f: max(f.gaps, default=math.inf) <= 30)
    elif n == 200:
        found["429"] = Goal("0", lambda f: f.total_429 == 0)
        found["exact"] = Goal("all", lambda f: f.exact == len(f.replies))
        found["final"] = Goal("p99 <= 15 s", lambda f: percentile(f.finals, 99) <= 15)
    return found


def _num(value: float) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    return (
        f"{value:.2f}"
        if abs(value) < 10
        else f"{value:.1f}"
        if abs(value) < 1000
        else f"{value:.0f}"
    )


def _ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:.2f}"


class Table:
    """Rows of ``auto`` beside ``edit``: each cell holds one or more numbers, the ratio column
    their ratios, and the goal column the goal with a verdict per mode."""

    def __init__(self, auto: Figures, edit: Figures, goals: Mapping[str, Goal]) -> None:
        self.auto, self.edit, self.goals = auto, edit, goals
        print(
            f"  {'':<44}{'unit':<9}{'auto':>22}{'edit':>22}{'auto/edit':>20}  goal",
        )

    def row(
        self,
        label: str,
        unit: str,
        values: Callable[[Figures], Sequence[float]],
        *,
        goal: str | None = None,
        ints: bool = False,
    ) -> None:
        a, e = values(self.auto), values(self.edit)
        fmt: Callable[[float], str] = (lambda v: str(int(v))) if ints else _num
        cells = [" / ".join(fmt(v) for v in vs) for vs in (a, e)]
        ratios = " / ".join(_ratio(x, y) for x, y in zip(a, e, strict=True))
        verdict = ""
        if goal is not None and goal in self.goals:
            g = self.goals[goal]
            marks = [("ok" if g.met(f) else "MISS") for f in (self.auto, self.edit)]
            verdict = f"{g.text}: auto {marks[0]}, edit {marks[1]}"
        print(f"  {label:<44}{unit:<9}{cells[0]:>22}{cells[1]:>22}{ratios:>20}  {verdict}".rstrip())


def _p(values: Sequence[float]) -> list[float]:
    return [percentile(values, 50), percentile(values, 99)]


def report(config: Config, auto: Figures, edit: Figures, direct: Figures | None) -> None:
    """Print one N's figures, ``auto`` beside ``edit``."""
    n = config.turns
    print(
        f"\n== N = {n}: {auto.run.deltas:,} deltas per mode, {config.channels} channels;"
        f" wall auto {auto.run.wall:.1f} s, edit {edit.run.wall:.1f} s"
        + (f", direct {direct.run.wall:.1f} s" if direct else "")
    )
    table = Table(auto, edit, goals(n))
    table.row("event ack (HTTP 200)", "wall ms", lambda f: _p(f.ack_ms), goal="ack")
    table.row("first delta -> first text", "s", lambda f: _p(f.first_text), goal="first")
    table.row(
        "longest gap per reply p50/p99/max",
        "s",
        lambda f: [*_p(f.gaps), max(f.gaps, default=math.nan)],
        goal="gap",
    )
    table.row("turn end -> final visible", "s", lambda f: _p(f.finals), goal="final")
    table.row(
        "finals posted anew, partial deleted (of N)", "", lambda f: [len(f.partials)], ints=True
    )
    table.row(
        "  partial left beside them p50/p99/max",
        "s",
        lambda f: [*_p(f.partials), max(f.partials, default=math.nan)],
    )
    table.row("finals exact (of N)", "", lambda f: [f.exact], goal="exact", ints=True)
    table.row("429s, all methods", "", lambda f: [f.total_429], goal="429", ints=True)
    for method in METHODS:
        limit = DEFAULT_RATE_LIMITS[method].per_minute
        table.row(f"{method} calls/429s/peak", f"/{limit:g}m", _method_row(method), ints=True)
    table.row(
        f"turn length, first delta -> end (script {config.stream_seconds:g})",
        "s",
        lambda f: _p(f.turn_lengths),
    )
    table.row("CPU per delta", "us", lambda f: [f.cpu_per_delta_us])
    table.row("redis-server CPU", "wall s", lambda f: [f.run.redis_cpu])
    table.row(
        "update budget asks per grant",
        "",
        lambda f: [f.run.update_asks / f.run.update_grants if f.run.update_grants else math.nan],
    )
    for fig in (auto, edit):
        _delivery(fig)
    if direct is not None:
        print(
            f"  direct post (no streaming): first delta -> text p50/p99 "
            f"{' / '.join(_num(v) for v in _p(direct.first_text))} s; turn end -> final "
            f"{' / '.join(_num(v) for v in _p(direct.finals))} s; CPU per delta "
            f"{direct.cpu_per_delta_us:.1f} us; finals exact {direct.exact}/{n}; "
            f"429s {direct.total_429}"
        )


def _method_row(method: str) -> Callable[[Figures], list[float]]:
    """Calls accepted, 429s, and the busiest 60 s of accepted calls of one method."""
    return lambda f: [f.calls[method], f.limited[method], f.busiest[method]]


def _delivery(fig: Figures) -> None:
    replies, mode = fig.replies, fig.run.mode
    native = sum(r.native for r in replies)
    print(
        f"  {mode}: {native} replies streamed natively ({sum(r.empty_start for r in replies)}"
        f" opened empty), {len(replies) - native} by edits"
        f" ({sum(r.placeholder for r in replies)} placeholders posted);"
        f" {sum(r.edited_stream for r in replies)} left a stream for edits,"
        f" {sum(r.expired for r in replies)} streams expired in Slack"
        + (f"; {fig.run.unfinished} UNFINISHED at the time limit" if fig.run.unfinished else "")
    )
    wrong = Counter(r.why for r in replies if not r.exact)
    if wrong:
        examples = [r.turn.index for r in replies if not r.exact][:8]
        print(f"    NOT EXACT: {dict(wrong)} (turns {examples})")
    if fig.errors:
        print(f"    Slack errors: {dict(fig.errors.most_common(6))}")
    for key, count in fig.run.logs.counts.most_common(6):
        print(f"    log x{count}: {fig.run.logs.examples[key][:160]}")


def failed(auto: Figures, edit: Figures, direct: Figures | None) -> bool:
    """Any final not exact (any mode), or any 429 in auto mode."""
    runs = [auto, edit] + ([direct] if direct else [])
    return any(f.exact < len(f.replies) for f in runs) or auto.total_429 > 0


async def bench(configs: Sequence[Config], *, direct: bool) -> int:
    first = configs[0]
    limits = ", ".join(
        f"{m} {DEFAULT_RATE_LIMITS[m].per_minute:g}"
        + ("/channel" if DEFAULT_RATE_LIMITS[m].scope == "channel" else "")
        for m in METHODS
    )
    print(
        f"Slack time runs {first.scale:g}x the wall clock: one Slack minute = "
        f"{60 / first.scale:.1f} s of wall time. Times are Slack seconds unless marked wall.\n"
        f"Slack fake windows per minute: {limits}; the bot's lanes: its defaults.\n"
        f"Each turn: first delta after {first.first_token:g} s, then {first.deltas} deltas over "
        f"{first.stream_seconds:g} s; answers ~{first.answer_chars} chars (+-50%);"
        f" {first.per_channel} threads per channel."
    )
    failures = 0
    async with redis_server() as redis:
        for config in configs:
            base = figures(await run_direct(config, redis)) if direct else None
            edit = figures(await run_bot(config, redis, "edit"))
            auto = figures(await run_bot(config, redis, "auto"))
            report(config, auto, edit, base)
            if failed(auto, edit, base):
                failures += 1
                print("  => FAILED: a final is not exact, or auto mode got a 429")
            sys.stdout.flush()
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--scale", type=float, default=10.0, help="Slack time / wall time")
    parser.add_argument("--stream-seconds", type=float, default=60.0, help="per turn, Slack time")
    parser.add_argument("--deltas", type=int, default=300, help="deltas per turn")
    parser.add_argument("--answer-chars", type=int, default=2400)
    parser.add_argument("--per-channel", type=int, default=4, help="threads per channel")
    parser.add_argument(
        "--first-token", type=float, default=3.0, help="model's time to first delta, Slack time"
    )
    parser.add_argument("--no-direct", action="store_true", help="skip the direct-post baseline")
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
    return asyncio.run(bench(configs, direct=not args.no_direct))


if __name__ == "__main__":
    sys.exit(main())

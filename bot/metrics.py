"""Prometheus metrics of the bot, served on ``/metrics``.

One :class:`Metrics` object per process holds its own registry (so tests can run several bots
in one process without the global registry's duplicate-name errors). Labels are low-cardinality
on purpose: outcomes and method names, never team, channel or thread ids (those go in logs).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Every counter, gauge and histogram the bot exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.turns = Counter(
            "codex_slack_turns", "Codex turns by outcome.", ["outcome"], registry=r
        )
        self.deltas = Counter(
            "codex_slack_deltas", "Agent message deltas received from Codex.", registry=r
        )
        self.slack_calls = Counter(
            "codex_slack_slack_api_calls",
            "Slack Web API calls by method and outcome (ok, ratelimited, error).",
            ["method", "outcome"],
            registry=r,
        )
        self.rate_limited = Counter(
            "codex_slack_slack_ratelimited", "HTTP 429 answers from Slack.", ["method"], registry=r
        )
        self.update_budget = Gauge(
            "codex_slack_update_budget_per_minute",
            "The chat.update budget per workspace and minute.",
            registry=r,
        )
        self.active_streams = Gauge(
            "codex_slack_active_streams", "Replies streaming in this process.", registry=r
        )
        self.codex_reconnects = Counter(
            "codex_slack_codex_reconnects", "Reconnects to a Codex app-server.", registry=r
        )
        self.takeovers = Counter(
            "codex_slack_takeovers",
            "Slack threads this replica took over from a replica that died or left.",
            registry=r,
        )
        self.reattached = Counter(
            "codex_slack_reattached_turns",
            "Turns followed again after their Codex connection dropped.",
            registry=r,
        )
        self.event_ack_seconds = Histogram(
            "codex_slack_event_ack_seconds",
            "Time from receiving a Slack request to acknowledging it.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_text_seconds = Histogram(
            "codex_slack_first_text_seconds",
            "Time from a turn's first delta to its text first showing (a post, a stream or "
            "an edit).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.replies = Counter(
            "codex_slack_replies",
            "Finished replies by how they streamed (native stream or edits) and how their "
            "final text went out (stop/edit in place, or posted anew because the lane was busy).",
            ["delivery", "final"],
            registry=r,
        )
        self.native_fallbacks = Counter(
            "codex_slack_native_fallbacks",
            "Native streams that gave way to edits, by Slack's reason.",
            ["why"],
            registry=r,
        )

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)

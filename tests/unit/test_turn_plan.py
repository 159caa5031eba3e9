"""Codex's plan (``turn/plan/updated``) becomes a stream's plan title and one task per step.

The scripted model cannot make Codex 0.171 send a plan (its fallback model metadata offers no
``update_plan`` tool), so the mapping is checked here on the notification's documented shape.
"""

from __future__ import annotations

from bot.native_stream import TaskStatus
from bot.turns import _show_plan


class RecordingReply:
    def __init__(self) -> None:
        self.title: str | None = None
        self.tasks: list[tuple[str, str, TaskStatus]] = []

    def plan(self, title: str) -> None:
        self.title = title

    def task(self, task_id: str, title: str, status: TaskStatus) -> None:
        self.tasks.append((task_id, title, status))


def test_each_step_becomes_a_task_with_slack_status() -> None:
    reply = RecordingReply()
    params = {
        "threadId": "t",
        "turnId": "u",
        "explanation": "Fix it in two steps",
        "plan": [
            {"step": "read the code", "status": "completed"},
            {"step": "fix the bug", "status": "inProgress"},
            {"step": "run the tests", "status": "pending"},
        ],
    }
    _show_plan(params, reply)  # type: ignore[arg-type]
    assert reply.title == "Fix it in two steps"
    assert reply.tasks == [
        ("plan-0", "read the code", "complete"),
        ("plan-1", "fix the bug", "in_progress"),
        ("plan-2", "run the tests", "pending"),
    ]


def test_a_plan_without_explanation_or_with_odd_steps_still_shows() -> None:
    reply = RecordingReply()
    _show_plan({"plan": [{"step": "only", "status": "weird"}, {"nostep": 1}, "x"]}, reply)  # type: ignore[arg-type]
    assert reply.title == "Plan"
    assert reply.tasks == [("plan-0", "only", "pending")]

"""The arithmetic of the chat.update budget (bot.ratelimit.BudgetPolicy)."""

from __future__ import annotations

import pytest

from bot.ratelimit import BudgetPolicy


def test_a_minute_never_holds_more_than_the_budget() -> None:
    """A full bucket plus one minute of refill is exactly per_minute grants."""
    for per_minute, burst in [(50, 3), (50, 1), (20, 5), (100, 10)]:
        policy = BudgetPolicy(per_minute=per_minute, burst=burst)
        assert policy.max_grants(60) == pytest.approx(per_minute)


def test_refill_is_what_the_burst_leaves_of_the_minute() -> None:
    """With the defaults (50/min, burst 3) the bucket refills 47 tokens a minute."""
    assert BudgetPolicy().refill_per_second * 60 == pytest.approx(47)


def test_fair_spacing_splits_the_refill_between_active_streams() -> None:
    """k active streams each edit every k/refill seconds, never faster than min_interval."""
    policy = BudgetPolicy(per_minute=50, burst=3, min_interval=1.0)
    assert policy.fair_spacing(1) == pytest.approx(60 / 47)
    assert policy.fair_spacing(10) == pytest.approx(600 / 47)
    assert BudgetPolicy(per_minute=600, burst=3, min_interval=1.0).fair_spacing(1) == 1.0
    assert policy.fair_spacing(0) == policy.fair_spacing(1)


@pytest.mark.parametrize(
    ("per_minute", "burst", "min_interval"),
    [(1, 1, 1.0), (50, 0, 1.0), (50, 50, 1.0), (50, 3, -1.0)],
)
def test_impossible_policies_are_refused(per_minute: int, burst: int, min_interval: float) -> None:
    """A budget whose burst is not below per_minute, or a negative interval, is a ValueError."""
    with pytest.raises(ValueError, match=r"per_minute|burst|min_interval"):
        BudgetPolicy(per_minute=per_minute, burst=burst, min_interval=min_interval)

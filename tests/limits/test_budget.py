"""A turn's budget while it streams: checked in memory at every chunk, the provider's counts
replacing the estimate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.limits.budget import LimitCrossed, TurnBudget
from apps.limits.selectors import LimitInForce


def limit(metric: str, amount: int, window: str = "day") -> LimitInForce:
    return LimitInForce(
        project_id="p", user_id=None, metric=metric, window=window, amount=Decimal(amount)
    )


def test_a_stream_crossing_a_tokens_limit_is_stopped_at_the_chunk_that_crossed_it():
    tokens = limit("tokens", 10)
    # 4 used by other turns, and the unit this turn reserved when it began.
    budget = TurnBudget([tokens], {tokens: Decimal(5)})
    budget.synced_at = float("inf")  # no sync in this test
    budget.sync_due = {"tokens": float("inf"), "cost": float("inf")}

    budget.step_begin(2)
    budget.output("abcd")  # a token
    budget.output("abcdefgh")  # two: 4 + 2 + 3 = 9
    with pytest.raises(LimitCrossed) as crossed:
        budget.output("abcdefgh")

    assert "token limit of 10 tokens per day is used up (11 tokens used)" in crossed.value.message
    assert crossed.value.described["metric"] == "tokens"


def test_the_provider_s_counts_replace_the_step_s_estimate():
    cost = limit("cost", 1)
    budget = TurnBudget([cost], {})
    budget.synced_at = float("inf")
    budget.sync_due = {"tokens": float("inf"), "cost": float("inf")}
    budget.prices = (0.001, 0.01)

    budget.step_begin(100)  # $0.10
    budget.output("a" * 40)  # ten tokens: $0.10
    budget.step_end(120, 8, 0.2)

    assert budget.spent["tokens"] == 128
    assert budget.spent["cost"] == pytest.approx(0.2)
    with pytest.raises(LimitCrossed):
        budget.step_end(0, 0, 1.5)

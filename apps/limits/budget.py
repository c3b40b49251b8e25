"""A turn's spending against its limits while it streams.

Every chunk is checked in memory only (no database, no lock): what the counters held at the
last sync plus what the turn spent since, against each limit. A sync charges the counters
what the turn spent since the one before and reads back their totals (which hold every other
turn's and process's spending too); it runs off the event loop, never in the stream's way,
every SYNC_SECONDS of streaming or sooner when the turn spent a good part of what was left.
Tokens are estimated as they stream (a token per four characters); a step's estimate gives way
to the provider's own counts when they arrive at its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from decimal import Decimal
from typing import Any

from django.utils import timezone

from apps.core.database import database_retry
from apps.core.streams import off_loop
from apps.limits.models import Metric
from apps.limits.selectors import LimitInForce, limits_in_force
from apps.limits.services import RESERVED, usage_charge

logger = logging.getLogger(__name__)

SYNC_SECONDS = 0.25
# A sync is due too once the turn spent this part of what its tightest limit had left.
SYNC_SHARE = 0.25
COST_PLACES = Decimal("1e-10")
# Sums of float prices land a hair beside the exact figure: reaching a budget is not crossing it.
SLACK = 1e-9
SPENT_METRICS: tuple[str, ...] = (Metric.TOKENS, Metric.COST)


class LimitCrossed(Exception):
    """A limit was crossed while the turn streamed; `message` says which and how much."""

    def __init__(self, message: str, described: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.described = described


def estimated_tokens(text: str) -> int:
    return (len(text) + 3) // 4


class TurnBudget:
    """One turn's spending and the limits it answers to (see the module's docstring)."""

    def __init__(
        self, limits: list[LimitInForce], used: dict[LimitInForce, Decimal] | None = None
    ) -> None:
        self.limits = [limit for limit in limits if limit.counted()]
        metrics = {limit.metric for limit in self.limits}
        # The turn reserved the first unit of each counted limit when it began (turn_admit).
        reserved = {metric: float(RESERVED[Metric(metric)]) for metric in metrics}
        self.spent: dict[str, float] = {metric: 0.0 for metric in SPENT_METRICS}
        self.spent.update({m: r for m, r in reserved.items() if m not in SPENT_METRICS})
        self.charged = {metric: reserved.get(metric, 0.0) for metric in self.spent}
        self.prices: tuple[float, float] | None = None  # US dollars per input, output token
        self.step_input = self.step_output = 0
        self.step_cost = 0.0
        self.syncing: asyncio.Task[None] | None = None
        self._table(used or {})

    def _table(self, used: dict[LimitInForce, Decimal]) -> None:
        """The check's table, as of a sync: each limit's metric, amount and counter."""
        self.checks = [
            (limit, limit.metric, float(limit.amount) + SLACK, float(used.get(limit, 0)))
            for limit in self.limits
        ]
        self.synced_at = time.monotonic()
        self.sync_due = {}
        for metric in self.spent:
            left = [amount - held for _, m, amount, held in self.checks if m == metric]
            share = max(0.0, min(left)) * SYNC_SHARE if left else float("inf")
            self.sync_due[metric] = self.spent[metric] + share

    # --- In the stream: memory only; each raises LimitCrossed once a limit is crossed ------

    def step_begin(self, input_tokens: int) -> None:
        """A model call begins: its input, estimated once."""
        self.step_input, self.step_output, self.step_cost = input_tokens, 0, 0.0
        self._spend(input_tokens, self.prices[0] * input_tokens if self.prices else 0.0)
        self.check()

    def output(self, text: str) -> None:
        """A streamed piece of the answer (text, reasoning, a tool call's input)."""
        tokens = estimated_tokens(text)
        self.step_output += tokens
        self._spend(tokens, self.prices[1] * tokens if self.prices else 0.0)
        self.check()

    def step_end(
        self, input_tokens: int, output_tokens: int, cost: float | None, *, checked: bool = True
    ) -> None:
        """The provider's own counts (or the final estimate) replace the step's estimate."""
        step_cost = self.step_cost
        self._spend(
            input_tokens + output_tokens - self.step_input - self.step_output,
            (cost or 0.0) - step_cost,
        )
        self.step_input = self.step_output = 0
        self.step_cost = 0.0
        if checked:
            self.check()

    def step_estimate(self) -> tuple[int, int, float]:
        """The step's estimate, for a step that ended before the provider counted it."""
        return self.step_input, self.step_output, self.step_cost

    def _spend(self, tokens: int, cost: float) -> None:
        self.step_cost += cost
        spent = self.spent
        spent[Metric.TOKENS] += tokens
        spent[Metric.COST] += cost
        due = self.sync_due
        if (
            spent[Metric.TOKENS] >= due[Metric.TOKENS]
            or spent[Metric.COST] >= due[Metric.COST]
            or time.monotonic() - self.synced_at >= SYNC_SECONDS
        ) and self.checks:
            self.sync_soon()

    def check(self) -> None:
        """Raises LimitCrossed when the turn's spending crossed a limit."""
        spent, charged = self.spent, self.charged
        for limit, metric, amount, held in self.checks:
            if held + spent[metric] - charged[metric] > amount:
                self._crossed(limit, held + spent[metric] - charged[metric])

    def _crossed(self, limit: LimitInForce, used: float) -> None:
        now = timezone.now()
        amount = Decimal(repr(used)).quantize(COST_PLACES)
        raise LimitCrossed(limit.words(amount, now), limit.described(amount, now))

    # --- Off the loop ---------------------------------------------------------------------

    def sync_soon(self) -> None:
        if self.syncing is None or self.syncing.done():
            self.syncing = asyncio.get_running_loop().create_task(self._sync())

    async def _sync(self) -> None:
        spent = dict(self.spent)
        try:
            used = await off_loop(usage_charge)(limits=self.limits, spent=self._owed(spent))
        except Exception:  # the next sync charges it; the stream goes on
            logger.warning("could not charge a turn's spending to its limits", exc_info=True)
            self.synced_at = time.monotonic()
            return
        self.charged = spent
        self._table(used)

    def _owed(self, spent: dict[str, float]) -> dict[str, Decimal]:
        return {
            metric: Decimal(repr(spent[metric] - self.charged[metric])).quantize(COST_PLACES)
            for metric in spent
            if spent[metric] != self.charged[metric]
        }

    async def close(self) -> None:
        """Charges the rest of what the turn spent (and gives back what it reserved and did
        not spend): the counters then agree with the turn's usage."""
        if self.syncing is not None:
            with contextlib.suppress(Exception):
                await self.syncing
        owed = self._owed(dict(self.spent))
        if owed and self.limits:
            limits = self.limits
            await off_loop(database_retry)(lambda: usage_charge(limits=limits, spent=owed))
            self.charged = dict(self.spent)


def turn_budget_open(*, project_id: str, user_id: Any) -> TurnBudget:
    """The budget of a turn of `user_id` in the project, with its limits' counters as now."""
    limits = limits_in_force(project_id=project_id, user_id=user_id)
    budget = TurnBudget(limits)
    if budget.limits:
        budget._table(usage_charge(limits=budget.limits, spent={}))
    return budget

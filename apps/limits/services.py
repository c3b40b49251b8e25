"""Limits set, turns admitted, what turns spent charged to the counters, old counters pruned.

Counters change only by single-statement updates, so every server process counts together
without holding a lock: a reservation is `used = used + n WHERE used + n <= amount` (two
turns on the last unit of a budget: the database lets one through), a charge `used + n`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.limits.models import WHOLE_METRICS, Limit, LimitUsage, Metric, Window
from apps.limits.selectors import (
    LimitInForce,
    limit_used,
    limits_in_force,
    period_start,
    running_turns,
)
from apps.projects.models import Project
from discobot.errors import ApplicationError, TooManyRequestsError

# What a turn reserves when it starts, of every counted limit it answers to: a whole turn, and
# the last unit of a tokens or cost budget (then two turns cannot both start on it). What the
# turn then spends is charged less what it reserved.
RESERVED = {Metric.TURNS: Decimal(1), Metric.TOKENS: Decimal(1), Metric.COST: Decimal("0.000001")}


class LimitReached(TooManyRequestsError):
    """A limit is used up: the words say which, how much is used, when it resets."""

    def __init__(self, limit: LimitInForce, used: Decimal, now: datetime) -> None:
        super().__init__(
            limit.words(used, now),
            retry_after=limit.retry_after(now) if limit.counted() else None,
            extra={"limit": limit.described(used, now)},
        )
        self.limit = limit
        self.described = limit.described(used, now)


# --- The limits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitSpec:
    user_id: Any  # None: the whole project
    metric: str
    window: str
    amount: Decimal


def limit_spec_problem(spec: LimitSpec) -> str:
    if spec.metric == Metric.CONCURRENT_TURNS and spec.window != Window.TOTAL:
        return "A concurrent_turns limit has no window: leave it out, or give total"
    if spec.amount < 0:
        return "A limit's amount cannot be negative"
    if spec.metric in WHOLE_METRICS and spec.amount != spec.amount.to_integral_value():
        return f"A {spec.metric} limit's amount must be a whole number"
    return ""


@transaction.atomic
def limits_replace(*, project: Project, specs: list[LimitSpec]) -> None:
    """Replaces the project's limits (its own and its members') with `specs`."""
    seen = set()
    members = set(project.memberships.values_list("user_id", flat=True))
    for spec in specs:
        problem = limit_spec_problem(spec)
        if problem:
            raise ApplicationError(problem)
        if spec.user_id is not None and spec.user_id not in members:
            raise ApplicationError(f"User {spec.user_id} is not a member of this project")
        key = (spec.user_id, spec.metric, spec.window)
        if key in seen:
            raise ApplicationError(
                f"The {spec.metric} limit per {spec.window} of the same scope is given twice"
            )
        seen.add(key)
    locked = Project.objects.select_for_update().get(pk=project.pk)
    before = limits_audited(project)
    Limit.objects.filter(project=locked).delete()
    Limit.objects.bulk_create(
        Limit(
            project=locked,
            user_id=spec.user_id,
            metric=spec.metric,
            window=spec.window,
            amount=spec.amount,
        )
        for spec in specs
    )
    after = limits_audited(project)
    if before != after:
        audit_record(
            action="limits.updated",
            target_type="project",
            target_id=project.pk,
            target_label=project.name,
            project_id=project.pk,
            changes={"limits": [before, after]},
        )


def limits_audited(project: Project) -> list[str]:
    return sorted(
        f"{'project' if row.user_id is None else row.user_id} {row.metric}:{row.window}:"
        f"{row.amount.normalize():f}"
        for row in Limit.objects.filter(project=project)
    )


# --- Turns ---------------------------------------------------------------------------------------


def turn_admit(*, project: Project, user: User | None) -> list[LimitInForce]:
    """Lets a turn start, or raises LimitReached with the first limit it would cross. Call it
    inside the transaction that stores the turn, before it writes anything: a refusal rolls
    the reservations back with it. Returns the limits the turn answers to."""
    now = timezone.now()
    user_id = user.pk if user is not None else None
    limits = limits_in_force(project_id=project.pk, user_id=user_id)
    if any(not limit.counted() for limit in limits):
        # Two turns beginning at once count each other's rows only one after the other
        # (SQLite's IMMEDIATE transactions already run one at a time).
        Project.objects.select_for_update().filter(pk=project.pk).first()
    for limit in limits:
        if not limit.counted():
            running = running_turns(project_id=project.pk, user_id=limit.user_id)
            if running + 1 > limit.amount:
                raise LimitReached(limit, Decimal(running), now)
        elif not usage_reserve(limit, RESERVED[Metric(limit.metric)], now):
            raise LimitReached(limit, limit_used(limit, now), now)
    return limits


def usage_counter_ensure(limit: LimitInForce, now: datetime) -> None:
    """The limit's counter for the current period exists (made by whoever comes first)."""
    found = LimitUsage.objects.filter(limit.usage_filter(now)).exists()
    if found:
        return
    try:
        with transaction.atomic():
            LimitUsage.objects.create(
                project_id=limit.project_id,
                user_id=limit.user_id,
                metric=limit.metric,
                window=limit.window,
                period_start=period_start(limit.window, now),
            )
    except IntegrityError:  # another process made it first
        pass


def usage_reserve(limit: LimitInForce, amount: Decimal, now: datetime) -> bool:
    """Adds `amount` to the counter if it stays within the limit; False when it would not."""
    usage_counter_ensure(limit, now)
    return bool(
        LimitUsage.objects.filter(limit.usage_filter(now), used__lte=limit.amount - amount).update(
            used=F("used") + amount
        )
    )


def usage_charge(
    *, limits: list[LimitInForce], spent: dict[str, Decimal]
) -> dict[LimitInForce, Decimal]:
    """Adds what a turn spent since its last charge (`spent`, by metric; negative gives back
    a reservation it did not use) to its limits' counters, and reads back what each counter
    holds now: every turn's and process's spending."""
    now = timezone.now()
    counted = [limit for limit in limits if limit.counted()]
    for limit in counted:
        amount = spent.get(limit.metric, Decimal(0))
        if amount:
            usage_counter_ensure(limit, now)
            LimitUsage.objects.filter(limit.usage_filter(now)).update(used=F("used") + amount)
    if not counted:
        return {}
    rows = LimitUsage.objects.filter(
        any_of(limit.usage_filter(now) for limit in counted)
    ).values_list("user_id", "metric", "window", "used")
    held = {(user_id, metric, window): used for user_id, metric, window, used in rows}
    return {
        limit: held.get((limit.user_id, limit.metric, limit.window), Decimal(0))
        for limit in counted
    }


def any_of(filters: Iterable[Q]) -> Q:
    combined = Q(pk__in=[])
    for one in filters:
        combined |= one
    return combined


def limit_usages_prune() -> int:
    """Deletes the counters of periods that are over; returns how many."""
    now = timezone.now()
    deleted, _ = LimitUsage.objects.filter(
        any_of(
            Q(window=window, period_start__lt=period_start(window, now))
            for window in (Window.MINUTE, Window.DAY, Window.MONTH)
        )
    ).delete()
    return deleted

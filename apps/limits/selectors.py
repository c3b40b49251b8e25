"""The limits in force for a turn, their windows' periods, and how a user reads them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils import timezone

from apps.limits.models import WHOLE_METRICS, Limit, LimitUsage, Metric, Window

# The one period of a `total` window starts here.
TOTAL_PERIOD_START = datetime(2000, 1, 1, tzinfo=UTC)
METRIC_WORDS = {
    Metric.TOKENS: "token",
    Metric.COST: "cost",
    Metric.TURNS: "turn",
    Metric.CONCURRENT_TURNS: "concurrent turns",
}
WINDOW_WORDS = {
    Window.MINUTE: " per minute",
    Window.DAY: " per day",
    Window.MONTH: " per month",
    Window.TOTAL: "",
}


def period_start(window: str, now: datetime) -> datetime:
    now = now.astimezone(UTC)
    if window == Window.MINUTE:
        return now.replace(second=0, microsecond=0)
    if window == Window.DAY:
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == Window.MONTH:
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return TOTAL_PERIOD_START


def period_end(window: str, now: datetime) -> datetime | None:
    """When the period holding `now` ends, and the limit resets (None: it never does)."""
    start = period_start(window, now)
    if window == Window.MINUTE:
        return start + timedelta(minutes=1)
    if window == Window.DAY:
        return start + timedelta(days=1)
    if window == Window.MONTH:
        return (start + timedelta(days=32)).replace(day=1)
    return None


@dataclass(frozen=True)
class LimitInForce:
    """A limit that applies to a turn: one of the project's, or the instance's default."""

    project_id: str
    user_id: Any  # None: the whole project
    metric: str
    window: str
    amount: Decimal
    default: bool = False  # from DEFAULT_LIMITS
    user_email: str = ""

    @property
    def scope(self) -> str:
        return "project" if self.user_id is None else "member"

    def counted(self) -> bool:
        """Counted in LimitUsage rows (concurrent turns are counted from the running turns)."""
        return self.metric != Metric.CONCURRENT_TURNS

    def usage_filter(self, now: datetime) -> Q:
        return Q(
            project_id=self.project_id,
            user_id=self.user_id,
            metric=self.metric,
            window=self.window,
            period_start=period_start(self.window, now),
        )

    def retry_after(self, now: datetime) -> int | None:
        end = period_end(self.window, now)
        return None if end is None else max(1, int((end - now).total_seconds() + 0.999))

    def words(self, used: Decimal, now: datetime) -> str:
        """What the user reads: which limit, how much is used of it, when it resets."""
        owner = "This project's" if self.user_id is None else "Your"
        if self.metric == Metric.CONCURRENT_TURNS:
            return (
                f"{owner} limit of {amount_words(self.metric, self.amount)} is reached "
                f"({int(used)} running): try again when one ends"
            )
        end = period_end(self.window, now)
        resets = (
            f"it resets at {end:%Y-%m-%d %H:%M} UTC" if end is not None else "it does not reset"
        )
        return (
            f"{owner} {METRIC_WORDS[Metric(self.metric)]} limit of "
            f"{amount_words(self.metric, self.amount)}{WINDOW_WORDS[Window(self.window)]} is "
            f"used up ({amount_words(self.metric, used)} used); {resets}"
        )

    def described(self, used: Decimal, now: datetime) -> dict[str, Any]:
        """The limit as the API shows it, with what is used of it now."""
        end = period_end(self.window, now) if self.counted() else None
        return {
            "scope": self.scope,
            "userId": None if self.user_id is None else str(self.user_id),
            "metric": self.metric,
            "window": self.window,
            "amount": amount_number(self.metric, self.amount),
            "used": amount_number(self.metric, used),
            "resetsAt": end.isoformat().replace("+00:00", "Z") if end is not None else None,
            "default": self.default,
        }


def amount_number(metric: str, amount: Decimal) -> int | float:
    return int(amount) if metric in WHOLE_METRICS else float(amount)


def amount_words(metric: str, amount: Decimal) -> str:
    if metric == Metric.COST:
        return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${float(amount):.4g}"
    count = int(amount)
    noun = {Metric.TOKENS: "token", Metric.TURNS: "turn"}.get(Metric(metric), "concurrent turn")
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def default_limits() -> list[tuple[str, str, Decimal]]:
    """DEFAULT_LIMITS read: `metric:window:amount` items, each the limit of every project that
    set none for that metric and window."""
    parsed = []
    for item in settings.DEFAULT_LIMITS:
        metric, _, rest = item.strip().partition(":")
        window, _, amount = rest.partition(":")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            value = Decimal(-1)
        if metric not in Metric.values or window not in Window.values or value < 0:
            raise ImproperlyConfigured(
                f"DEFAULT_LIMITS: {item!r} is not metric:window:amount (metrics: "
                f"{', '.join(Metric.values)}; windows: {', '.join(Window.values)})"
            )
        parsed.append((metric, window, value))
    return parsed


def limits_in_force(*, project_id: str, user_id: Any) -> list[LimitInForce]:
    """The limits a turn of `user_id` in the project answers to: the project's, the caller's
    own as a member, and the instance's defaults where the project set none."""
    return project_limits(project_id=project_id, user_id=user_id, all_members=False)


def project_limits(
    *, project_id: str, user_id: Any = None, all_members: bool
) -> list[LimitInForce]:
    """The project's own limits, every member's (or only `user_id`'s), then the instance's
    defaults for each metric and window the project set none of."""
    rows = Limit.objects.filter(project_id=project_id).select_related("user")
    if not all_members:
        rows = rows.filter(Q(user__isnull=True) | Q(user_id=user_id))
    found = [
        LimitInForce(
            project_id=project_id,
            user_id=row.user_id,
            metric=row.metric,
            window=row.window,
            amount=row.amount,
            user_email=row.user.email if row.user is not None else "",
        )
        for row in rows
    ]
    own = {(limit.metric, limit.window) for limit in found if limit.user_id is None}
    found.extend(
        LimitInForce(
            project_id=project_id, user_id=None, metric=m, window=w, amount=a, default=True
        )
        for m, w, a in default_limits()
        if (m, w) not in own
    )
    return found


# Counts the turns running in a project (of one member, or of all with None); registered by
# the app that runs turns, above this one.
RunningTurns = Callable[[str, Any], int]
running_turns_counters: list[RunningTurns] = []


def running_turns_counter(count: RunningTurns) -> RunningTurns:
    running_turns_counters.append(count)
    return count


def running_turns(*, project_id: str, user_id: Any) -> int:
    return sum(count(project_id, user_id) for count in running_turns_counters)


def limit_used(limit: LimitInForce, now: datetime) -> Decimal:
    """What is used of a limit now: in its current period, or the turns running."""
    if not limit.counted():
        return Decimal(running_turns(project_id=limit.project_id, user_id=limit.user_id))
    used = LimitUsage.objects.filter(limit.usage_filter(now)).values_list("used", flat=True).first()
    return used if used is not None else Decimal(0)


def project_limits_described(
    *, project_id: str, user_id: Any, all_members: bool
) -> list[dict[str, Any]]:
    """The project's limits as its limits page shows them, each with what is used of it."""
    now = timezone.now()
    return [
        {**limit.described(limit_used(limit, now), now), "userEmail": limit.user_email or None}
        for limit in project_limits(project_id=project_id, user_id=user_id, all_members=all_members)
    ]

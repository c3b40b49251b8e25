from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from apps.projects.models import Project
from discobot.models import TimestampedModel, UUIDModel


class Metric(models.TextChoices):
    TOKENS = "tokens", "Tokens"  # input and output tokens, the cached ones included
    COST = "cost", "Cost"  # US dollars, as the turns were priced
    TURNS = "turns", "Turns"
    CONCURRENT_TURNS = "concurrent_turns", "Concurrent turns"


class Window(models.TextChoices):
    MINUTE = "minute", "Per minute"
    DAY = "day", "Per day"
    MONTH = "month", "Per month"
    TOTAL = "total", "In total"


# Counted in whole units: an amount of these metrics is an integer.
WHOLE_METRICS = (Metric.TOKENS, Metric.TURNS, Metric.CONCURRENT_TURNS)


class Limit(UUIDModel, TimestampedModel):
    """How much of a metric a project (`user` null), or one member of it, may use in a window.
    A concurrent-turns limit has no window (stored as `total`): it counts the turns running."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="limits")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text="Blank: the whole project",
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    window = models.CharField(max_length=10, choices=Window.choices)
    amount = models.DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        ordering = ("project", "user", "metric", "window")
        constraints = (
            # NULLs are distinct in a unique constraint: the project's own limits need their own.
            models.UniqueConstraint(
                fields=("project", "metric", "window"),
                condition=models.Q(user__isnull=True),
                name="unique_project_limit",
            ),
            models.UniqueConstraint(
                fields=("project", "user", "metric", "window"),
                condition=models.Q(user__isnull=False),
                name="unique_member_limit",
            ),
        )

    def __str__(self) -> str:
        return f"{self.metric} per {self.window} ≤ {self.amount}"


class LimitUsage(models.Model):
    """What a project (or member) used of a metric in one period of a window. Changed only by
    single-statement updates (`used + n`), so server processes count together without locks."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="limit_usages")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    window = models.CharField(max_length=10, choices=Window.choices)
    period_start = models.DateTimeField()
    used = models.DecimalField(max_digits=24, decimal_places=10, default=Decimal(0))

    class Meta:
        ordering = ("-period_start", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("project", "metric", "window", "period_start"),
                condition=models.Q(user__isnull=True),
                name="unique_project_limit_usage",
            ),
            models.UniqueConstraint(
                fields=("project", "user", "metric", "window", "period_start"),
                condition=models.Q(user__isnull=False),
                name="unique_member_limit_usage",
            ),
        )

    def __str__(self) -> str:
        return (
            f"{self.metric} per {self.window} from {self.period_start:%Y-%m-%d %H:%M}: {self.used}"
        )

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from apps.accounts.models import User
from apps.chat import uistream
from apps.chat.models import TURN_ACTIVE, ChatTurn, Message, TurnUsage
from apps.projects.models import Project
from apps.workspaces.models import Session


def turns_running(project_id: str, user_id: Any) -> int:
    """The project's turns pending or running (of one user; of all with None): what a
    concurrent-turns limit counts."""
    turns = ChatTurn.objects.filter(session__project_id=project_id, status__in=TURN_ACTIVE)
    if user_id is not None:
        turns = turns.filter(user_id=user_id)
    return turns.count()


def session_messages(*, session: Session) -> list[uistream.UIMessage]:
    """The session's UIMessages in order, as the AI SDK holds them."""
    messages = []
    for message in Message.objects.filter(session=session):
        shown: uistream.UIMessage = {
            "id": message.message_id,
            "role": message.role,
            "parts": message.parts,
        }
        if message.metadata is not None:
            shown["metadata"] = message.metadata
        messages.append(shown)
    return messages


def session_turn_active(*, session: Session) -> ChatTurn | None:
    """The turn answering in the session now, if one is."""
    return ChatTurn.objects.filter(session=session, status__in=TURN_ACTIVE).first()


class UsageGroupBy(StrEnum):
    USER = "user"
    SESSION = "session"
    MODEL = "model"
    DAY = "day"


USAGE_TOTALS = {
    "inputTokens": Sum("input_tokens", default=0),
    "outputTokens": Sum("output_tokens", default=0),
    "cachedTokens": Sum("cached_tokens", default=0),
    "reasoningTokens": Sum("reasoning_tokens", default=0),
    "cost": Sum("cost", default=Decimal(0)),
    "turns": Count("id"),
}
# Per grouping: the columns that name a group, its key, and its label.
USAGE_GROUPS: dict[UsageGroupBy, tuple[tuple[str, ...], Callable[[dict[str, Any]], Any], Any]] = {
    UsageGroupBy.USER: (
        ("user_id", "user__email"),
        lambda row: str(row["user_id"]) if row["user_id"] else None,
        lambda row: row["user__email"] or "A deleted user",
    ),
    UsageGroupBy.SESSION: (
        ("session_id", "session__id", "session__display_name", "session__name"),
        lambda row: row["session__id"],
        lambda row: row["session__display_name"] or row["session__name"] or "A deleted session",
    ),
    UsageGroupBy.MODEL: (("model",), lambda row: row["model"], lambda row: row["model"]),
    UsageGroupBy.DAY: (
        ("day",),
        lambda row: row["day"].isoformat(),
        lambda row: row["day"].isoformat(),
    ),
}


def usage_figures(row: dict[str, Any]) -> dict[str, Any]:
    figures = {name: row[name] for name in USAGE_TOTALS}
    figures["cost"] = float(figures["cost"])
    return figures


def project_usage(
    *,
    project: Project,
    user: User | None,
    group_by: UsageGroupBy,
    since: date | None = None,
    until: date | None = None,
) -> dict[str, Any]:
    """The project's turns' tokens and cost, in groups and in total; `user`: only that user's
    turns (None: everyone's). `since` and `until` are days, both included."""
    rows = TurnUsage.objects.filter(project=project)
    if user is not None:
        rows = rows.filter(user=user)
    if since is not None:
        rows = rows.filter(created_at__date__gte=since)
    if until is not None:
        rows = rows.filter(created_at__date__lte=until)
    columns, key, label = USAGE_GROUPS[group_by]
    grouped = rows.annotate(day=TruncDate("created_at")) if group_by == UsageGroupBy.DAY else rows
    groups = [
        {"key": key(row), "label": label(row), **usage_figures(row)}
        for row in grouped.order_by().values(*columns).annotate(**USAGE_TOTALS).order_by(*columns)
    ]
    return {"groups": groups, "totals": usage_figures(rows.aggregate(**USAGE_TOTALS))}

"""`manage.py prune_terminal_history`: old lines go, recent ones stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.core.housekeeping import HOUSEKEEPING
from apps.terminal.models import TerminalHistory
from tests.terminal.factories import TerminalHistoryFactory

pytestmark = pytest.mark.django_db


def recorded(content: str, *, days_ago: float) -> None:
    line = TerminalHistoryFactory.create(content=content)
    TerminalHistory.objects.filter(pk=line.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )


def kept() -> set[str]:
    return set(TerminalHistory.objects.values_list("content", flat=True))


def test_lines_older_than_the_given_days_are_deleted():
    recorded("last month", days_ago=31)
    recorded("last week", days_ago=7)
    recorded("today", days_ago=0)
    out = StringIO()

    call_command("prune_terminal_history", "--older-than", "10", stdout=out)

    assert kept() == {"last week", "today"}
    assert "Deleted 1 lines" in out.getvalue()


def test_without_days_the_retention_setting_applies(settings):
    settings.TERMINAL_HISTORY_RETENTION_DAYS = 5
    recorded("last week", days_ago=7)
    recorded("yesterday", days_ago=1)

    call_command("prune_terminal_history", stdout=StringIO())

    assert kept() == {"yesterday"}


def test_negative_days_are_refused():
    recorded("today", days_ago=0)

    with pytest.raises(CommandError, match="0 days or more"):
        call_command("prune_terminal_history", "--older-than", "-1")

    assert kept() == {"today"}


def test_the_worker_prunes_past_the_retention_setting_by_itself(settings):
    settings.TERMINAL_HISTORY_RETENTION_DAYS = 5
    recorded("last week", days_ago=7)
    recorded("yesterday", days_ago=1)

    HOUSEKEEPING["terminal history prune"].run()

    assert kept() == {"yesterday"}

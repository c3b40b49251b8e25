"""Entries are kept AUDIT_RETENTION_DAYS, then pruned; operators read them in a read-only admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.audit.housekeeping import audit_log_prune
from apps.audit.models import AuditEntry
from apps.audit.services import audit_record
from apps.core.housekeeping import HOUSEKEEPING
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def entry_aged(days: int) -> AuditEntry:
    entry = audit_record(action="project.updated", target_type="project", target_id=f"p{days}")
    AuditEntry.objects.filter(id=entry.id).update(created_at=timezone.now() - timedelta(days=days))
    return entry


def test_prune_removes_only_entries_older_than_the_days_given(capsys):
    entry_aged(1)
    entry_aged(40)

    call_command("prune_audit", "--days", "30")

    assert list(AuditEntry.objects.values_list("target_id", flat=True)) == ["p1"]
    assert "Deleted 1 audit log entries older than 30 days" in capsys.readouterr().out


def test_the_worker_prunes_daily_with_the_retention_setting(settings):
    settings.AUDIT_RETENTION_DAYS = 365
    entry_aged(364)
    entry_aged(366)

    assert HOUSEKEEPING["audit log prune"].interval() == 24 * 60 * 60
    assert audit_log_prune() == 1
    assert list(AuditEntry.objects.values_list("target_id", flat=True)) == ["p364"]


class TestAdmin:
    @pytest.fixture
    def operator_browser(self, settings) -> Client:
        browser = Client()
        browser.force_login(UserFactory.create(is_staff=True, is_superuser=True))
        return browser

    def test_operators_read_entries(self, operator_browser):
        entry = entry_aged(1)

        listing = operator_browser.get("/admin/audit/auditentry/")
        detail = operator_browser.get(f"/admin/audit/auditentry/{entry.id}/change/")

        assert listing.status_code == 200
        assert b"project.updated" in listing.content
        assert detail.status_code == 200
        assert b'name="_save"' not in detail.content

    def test_nobody_adds_changes_or_deletes_one(self, operator_browser):
        entry = entry_aged(1)
        change = f"/admin/audit/auditentry/{entry.id}/change/"

        assert operator_browser.get("/admin/audit/auditentry/add/").status_code == 403
        assert operator_browser.post(change, {"action": "x"}).status_code == 403
        assert (
            operator_browser.post(f"/admin/audit/auditentry/{entry.id}/delete/").status_code == 403
        )
        operator_browser.post(
            "/admin/audit/auditentry/",
            {"action": "delete_selected", "_selected_action": [entry.id], "post": "yes"},
        )
        assert AuditEntry.objects.get(id=entry.id).action == "project.updated"

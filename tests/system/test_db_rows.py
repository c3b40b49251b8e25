"""Rows read with SQL (`discobot.db`) are the model instances the ORM would have made."""

from __future__ import annotations

import datetime as dt

import pytest
from django.forms.models import model_to_dict

from apps.workspaces.models import Session, Workspace
from discobot import db
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def stored_values(instance: object) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields  # type: ignore[attr-defined]
    }


def test_a_row_has_every_value_the_orm_reads_with_its_type():
    workspace = WorkspaceFactory.create(
        display_name="Mine",
        progress={"receivedObjects": 1, "totalObjects": 2},
    )
    session = SessionFactory.create(
        workspace=workspace, progress={"step": "sandbox", "stepNumber": 2}
    )

    read = db.row(
        Session, "SELECT * FROM workspaces_session WHERE uuid = %s", [db.value(Session, session.pk)]
    )

    assert read is not None
    assert stored_values(read) == stored_values(Session.objects.get(pk=session.pk))
    assert isinstance(read.created_at, dt.datetime) and read.created_at.tzinfo is not None
    assert read.progress == {"step": "sandbox", "stepNumber": 2}
    assert read._state.adding is False  # saving it updates the row
    read.name = "Renamed"
    read.save(update_fields=["name"])
    assert Session.objects.get(pk=session.pk).name == "Renamed"
    again = db.row(
        Workspace,
        "SELECT * FROM workspaces_workspace WHERE id = %s",
        [db.value(Workspace, workspace.pk)],
    )
    assert again is not None
    assert model_to_dict(again) == model_to_dict(workspace)


def test_rows_come_in_the_order_the_sql_asks_for():
    first, second = WorkspaceFactory.create_batch(2)
    second.project = first.project
    second.save()

    listed = db.rows(
        Workspace,
        "SELECT * FROM workspaces_workspace WHERE project_id = %s ORDER BY created_at DESC, id",
        [first.project_id],
    )

    assert [workspace.pk for workspace in listed] == [second.pk, first.pk]
    assert db.row(Workspace, "SELECT * FROM workspaces_workspace WHERE id = %s", ["0" * 32]) is None


def test_sql_that_leaves_out_a_column_is_refused():
    WorkspaceFactory.create()

    with pytest.raises(ValueError, match="leaves out"):
        db.rows(Workspace, "SELECT id, path FROM workspaces_workspace", [])

"""The listings' rows (`RowsSerializer`) are exactly what DRF's own serializer renders."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from apps.agents.models import Agent
from apps.workspaces.api.serializers import SessionOutputSerializer, WorkspaceOutputSerializer
from discobot.api.serializers import row_plan
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def drf_rendering(serializer: serializers.ModelSerializer, row: object) -> dict:
    return dict(serializers.ModelSerializer.to_representation(serializer, row))


def test_a_workspace_row_renders_as_drf_renders_it_with_every_kind_of_value():
    full = WorkspaceFactory.create(
        display_name="Mine",
        error_message="it broke",
        commit="a" * 40,
        work_dir="/srv/work",
        progress={
            "receivedObjects": 1,
            "totalObjects": 2,
            "indexedDeltas": 0,
            "totalDeltas": 0,
            "receivedBytes": 10,
        },
    )
    empty = WorkspaceFactory.create()
    for workspace in (full, empty):
        serializer = WorkspaceOutputSerializer(workspace, context={"with_sessions": True})
        assert serializer.data == drf_rendering(serializer, workspace)
    assert WorkspaceOutputSerializer(full).data["progress"]["receivedBytes"] == 10
    assert WorkspaceOutputSerializer(empty).data["displayName"] is None


def test_session_rows_render_as_drf_renders_them_in_a_list():
    workspace = WorkspaceFactory.create()
    agent = Agent.objects.create(project=workspace.project, name="A", agent_type="claude-code")
    sessions = [
        SessionFactory.create(
            workspace=workspace,
            agent=agent,
            display_name="Shown",
            base_commit="b" * 40,
            progress={"step": "sandbox", "description": "d", "stepNumber": 2, "stepCount": 2},
        ),
        SessionFactory.create(workspace=workspace),
    ]
    listed = SessionOutputSerializer(sessions, many=True)
    one = SessionOutputSerializer()
    assert list(listed.data) == [drf_rendering(one, session) for session in sessions]
    assert listed.data[0]["agentId"] == str(agent.id)
    assert listed.data[1]["agentId"] is None


def test_each_output_class_works_out_its_rendering_once_and_a_context_field_keeps_its_own():
    # Both serializers render from a plan made once per class; the sessions of a workspace
    # (a method reading the serializer's context) still follow each serializer's own context.
    assert row_plan(WorkspaceOutputSerializer) is not None
    assert row_plan(SessionOutputSerializer) is not None
    workspace = WorkspaceFactory.create()
    SessionFactory.create(workspace=workspace)

    with_sessions = WorkspaceOutputSerializer(workspace, context={"with_sessions": True}).data
    without = WorkspaceOutputSerializer(workspace).data

    assert len(with_sessions["sessions"]) == 1
    assert without["sessions"] == []


class ContextField(serializers.Field):
    """A field of the kind no class-wide plan may hold: it renders from its serializer's
    context."""

    def __init__(self) -> None:
        super().__init__(source="*", read_only=True)

    def to_representation(self, value: object) -> str:
        return self.context["viewer"]


def test_a_class_with_a_field_that_reads_its_context_renders_per_serializer():
    class WithViewer(WorkspaceOutputSerializer):
        viewer = ContextField()

        class Meta(WorkspaceOutputSerializer.Meta):
            fields = (*WorkspaceOutputSerializer.Meta.fields, "viewer")  # type: ignore[assignment]

    workspace = WorkspaceFactory.create()

    assert row_plan(WithViewer) is None
    for viewer in ("ana", "bo"):
        serializer = WithViewer(workspace, context={"viewer": viewer})
        assert serializer.data == drf_rendering(serializer, workspace)
        assert serializer.data["viewer"] == viewer

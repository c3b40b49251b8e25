from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.agents.api.serializers import model_field
from apps.sandbox.selectors import PROVIDER_NAMES
from apps.workspaces.models import SESSION_ID_PATTERN, Session, SessionStatus, SourceType, Workspace
from discobot.api.fields import WHITESPACE, JsonBooleanField, QueryBooleanField, TextField
from discobot.api.serializers import (
    BlankAsNullField,
    DisplayNameField,
    RowsSerializer,
    StrictSerializer,
)


class SetupProgressSerializer(serializers.Serializer[dict[str, Any]]):
    """Where a session's setup is; null once it is set up."""

    step = serializers.CharField(help_text="`working_copy`, then `sandbox`")
    description = serializers.CharField()
    stepNumber = serializers.IntegerField()
    stepCount = serializers.IntegerField()


class CloneProgressSerializer(serializers.Serializer[dict[str, Any]]):
    """How far a clone's download is (libgit2's counts); null when no clone runs."""

    receivedObjects = serializers.IntegerField()
    totalObjects = serializers.IntegerField()
    indexedDeltas = serializers.IntegerField()
    totalDeltas = serializers.IntegerField()
    receivedBytes = serializers.IntegerField()


@extend_schema_serializer(component_name="Session")
class SessionOutputSerializer(RowsSerializer[Session]):
    projectId = serializers.CharField(source="project_id")
    displayName = BlankAsNullField(source="display_name")
    timestamp = serializers.DateTimeField(source="updated_at")
    commitStatus = serializers.CharField(source="commit_status")
    commitError = BlankAsNullField(source="commit_error")
    baseCommit = BlankAsNullField(source="base_commit")
    appliedCommit = BlankAsNullField(source="applied_commit")
    errorMessage = BlankAsNullField(source="error_message")
    files = serializers.SerializerMethodField()
    workspaceId = serializers.UUIDField(source="workspace_id")
    agentId = serializers.UUIDField(source="agent_id", allow_null=True)
    workspacePath = BlankAsNullField(source="workspace_path")
    workspaceCommit = BlankAsNullField(source="workspace_commit")
    progress = SetupProgressSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Session
        fields = (
            "id",
            "projectId",
            "name",
            "displayName",
            "description",
            "timestamp",
            "status",
            "commitStatus",
            "commitError",
            "baseCommit",
            "appliedCommit",
            "errorMessage",
            "files",
            "workspaceId",
            "agentId",
            "model",
            "workspacePath",
            "workspaceCommit",
            "progress",
        )

    def get_files(self, session: Session) -> list[str]:
        return []  # the contract keeps this field, always empty


@extend_schema_serializer(component_name="Workspace")
class WorkspaceOutputSerializer(RowsSerializer[Workspace]):
    displayName = BlankAsNullField(source="display_name")
    sourceType = serializers.CharField(source="source_type")
    errorMessage = BlankAsNullField(source="error_message")
    commit = BlankAsNullField()
    workDir = BlankAsNullField(source="work_dir")
    progress = CloneProgressSerializer(read_only=True, allow_null=True)
    sessions = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Workspace
        fields = (
            "id",
            "path",
            "displayName",
            "sourceType",
            "provider",
            "status",
            "errorMessage",
            "commit",
            "workDir",
            "progress",
            "sessions",
            "createdAt",
            "updatedAt",
        )

    def get_sessions(self, workspace: Workspace) -> list[dict[str, Any]]:
        """Filled in on a single workspace (`with_sessions`), empty in lists (contract §2)."""
        if not self.context.get("with_sessions"):
            return []
        return list(SessionOutputSerializer(workspace.sessions.all(), many=True).data)


# What the schema can say of a workspace's path: the service strips surrounding whitespace,
# and refuses a blank path and control characters; a local folder's path is absolute (or starts
# with `~`). Whether the folder exists, may be read and lies inside WORKSPACE_ROOTS is the
# server's disk's state, answered with 400 (apps.workspaces.services.local_folder_check).
_SPACE = f"[{WHITESPACE}]*"
_TEXT = "[^\\u0000-\\u001f\\u007f]"
_EDGE = f"[^{WHITESPACE}\\u0000-\\u001f\\u007f]"
SOURCE_PATTERN = f"^{_SPACE}{_EDGE}(?:{_TEXT}*{_EDGE})?{_SPACE}$"
LOCAL_FOLDER_PATTERN = f"^{_SPACE}[/~](?:{_TEXT}*{_EDGE})?{_SPACE}$"
# The sandbox providers this server offers, or blank for its default (checked by the service).
SANDBOX_PROVIDER_PATTERN = "^(?:" + "|".join(re.escape(name) for name in PROVIDER_NAMES) + ")?$"


def workspace_path_field(**kwargs: Any) -> TextField:
    return TextField(max_length=1000, stated_pattern=SOURCE_PATTERN, **kwargs)


def sandbox_provider_field(**kwargs: Any) -> TextField:
    return TextField(
        max_length=20,
        required=False,
        allow_blank=True,
        stated_pattern=SANDBOX_PROVIDER_PATTERN,
        **kwargs,
    )


@extend_schema_serializer(component_name="WorkspaceCreate")
class WorkspaceCreateSerializer(StrictSerializer):
    path = workspace_path_field(
        help_text="A folder on the server (`sourceType: local`) or a git URL or repository path"
    )
    displayName = DisplayNameField(
        source="display_name", max_length=200, required=False, allow_null=True, allow_blank=True
    )
    sourceType = serializers.ChoiceField(
        source="source_type", choices=SourceType.choices, default=SourceType.LOCAL
    )
    provider = sandbox_provider_field()
    initGit = JsonBooleanField(source="init_git", default=False)


@extend_schema_serializer(component_name="WorkspaceUpdate")
class WorkspaceUpdateSerializer(StrictSerializer):
    path = workspace_path_field(
        required=False, help_text="As the workspace's source type takes it (see WorkspaceCreate)"
    )
    displayName = DisplayNameField(
        source="display_name", max_length=200, required=False, allow_null=True, allow_blank=True
    )
    provider = sandbox_provider_field(allow_null=True)


class WorkspaceDeleteQuerySerializer(serializers.Serializer[Any]):
    deleteFiles = QueryBooleanField(
        source="delete_files",
        default=False,
        help_text="Also remove the server's clone of a git workspace (never a user's folder)",
    )


@extend_schema_serializer(component_name="SessionCreate")
class SessionCreateSerializer(StrictSerializer):
    id = TextField(
        max_length=65,
        pattern=SESSION_ID_PATTERN,
        message="Session id must be 1-65 letters, digits or dashes",
    )
    workspaceId = serializers.UUIDField(source="workspace_id")
    agentId = serializers.UUIDField(source="agent_id", required=False, allow_null=True)
    # The first message: the service keeps its first 50 characters as the name.
    name = DisplayNameField(max_length=None, required=False, allow_blank=True)
    model = model_field()


@extend_schema_serializer(component_name="SessionUpdate")
class SessionUpdateSerializer(StrictSerializer):
    name = DisplayNameField(max_length=100, required=False)
    displayName = DisplayNameField(
        source="display_name", max_length=200, required=False, allow_null=True, allow_blank=True
    )
    status = serializers.ChoiceField(choices=SessionStatus.choices, required=False)

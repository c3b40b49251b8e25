import os

from django.db import transaction
from django.db.models import F
from rest_framework import generics, serializers

from bench.baseline.models import AuditEntry, Event, Job, Project, Session, Workspace


class WorkspaceSerializer(serializers.ModelSerializer[Workspace]):
    class Meta:
        model = Workspace
        exclude = ("project",)

    def validate_path(self, path: str) -> str:
        # The equivalent of Discobot's check of a local folder.
        if not os.path.isdir(path):
            raise serializers.ValidationError("not a folder")
        return path


class SessionSerializer(serializers.ModelSerializer[Session]):
    class Meta:
        model = Session
        fields = "__all__"


class WorkspaceList(generics.ListCreateAPIView[Workspace]):
    serializer_class = WorkspaceSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Workspace._default_manager.filter(project_id=self.kwargs["project_id"])

    @transaction.atomic
    def perform_create(self, serializer):  # type: ignore[no-untyped-def]
        project_id = self.kwargs["project_id"]
        workspace = serializer.save(project_id=project_id)
        AuditEntry._default_manager.create(
            project_id=project_id,
            actor=self.request.user,
            action="workspace.create",
            target_id=str(workspace.id),
            changes={"path": workspace.path},
            address=self.request.META.get("REMOTE_ADDR"),
        )
        Project._default_manager.filter(id=project_id).update(
            last_event_seq=F("last_event_seq") + 1
        )
        seq = Project._default_manager.values_list("last_event_seq", flat=True).get(id=project_id)
        Event._default_manager.create(
            project_id=project_id,
            seq=seq,
            type="workspace_updated",
            data={"workspaceId": str(workspace.id), "status": workspace.status},
        )
        Job._default_manager.create(
            project_id=project_id, type="workspace_init", resource_id=workspace.id
        )


class SessionDetail(generics.RetrieveAPIView[Session]):
    serializer_class = SessionSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Session._default_manager.filter(project_id=self.kwargs["project_id"])

import os

from rest_framework import generics, serializers

from bench.baseline.models import Session, Workspace


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

    def perform_create(self, serializer):  # type: ignore[no-untyped-def]
        serializer.save(project_id=self.kwargs["project_id"])


class SessionDetail(generics.RetrieveAPIView[Session]):
    serializer_class = SessionSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Session._default_manager.filter(project_id=self.kwargs["project_id"])

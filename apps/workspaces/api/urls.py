from django.urls import path

from apps.workspaces.api import views

PROJECT = "projects/<project_id:project_id>"

urlpatterns = [
    path(f"{PROJECT}/workspaces", views.WorkspaceListView.as_view(), name="workspace-list"),
    path(
        f"{PROJECT}/workspaces/providers",
        views.WorkspaceProvidersView.as_view(),
        name="workspace-providers",
    ),
    path(
        f"{PROJECT}/workspaces/<uuid:workspace_id>",
        views.WorkspaceDetailView.as_view(),
        name="workspace-detail",
    ),
    path(
        f"{PROJECT}/workspaces/<uuid:workspace_id>/sessions",
        views.WorkspaceSessionsView.as_view(),
        name="workspace-sessions",
    ),
    path(f"{PROJECT}/sessions", views.SessionCreateView.as_view(), name="session-create"),
    path(
        f"{PROJECT}/sessions/<session_id:session_id>",
        views.SessionDetailView.as_view(),
        name="session-detail",
    ),
    path(
        f"{PROJECT}/sessions/<session_id:session_id>/commit",
        views.SessionCommitView.as_view(),
        name="session-commit",
    ),
]

from django.urls import path

from apps.workspaces.api import (
    actions_views,
    files_views,
    git_views,
    models_views,
    suggestions_views,
    views,
)

PROJECT = "projects/<project_id:project_id>"
SESSION = f"{PROJECT}/sessions/<session_id:session_id>"
GIT = f"{PROJECT}/workspaces/<uuid:workspace_id>/git"

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
    # Folder completions of the new-workspace dialog.
    path(
        f"{PROJECT}/suggestions",
        suggestions_views.SuggestionsView.as_view(),
        name="suggestions",
    ),
    path(f"{PROJECT}/sessions", views.SessionCreateView.as_view(), name="session-create"),
    path(SESSION, views.SessionDetailView.as_view(), name="session-detail"),
    path(f"{SESSION}/actions", actions_views.SessionActionsView.as_view(), name="session-actions"),
    path(f"{SESSION}/commit", views.SessionCommitView.as_view(), name="session-commit"),
    path(f"{SESSION}/models", models_views.SessionModelsView.as_view(), name="session-models"),
    # An agent's, here because listing them needs the credentials (models_views).
    path(
        f"{PROJECT}/agents/<uuid:agent_id>/models",
        models_views.AgentModelsView.as_view(),
        name="agent-models",
    ),
    # A session's working copy.
    path(f"{SESSION}/files", files_views.SessionFilesView.as_view(), name="session-files"),
    path(
        f"{SESSION}/files/read",
        files_views.SessionFileReadView.as_view(),
        name="session-file-read",
    ),
    path(
        f"{SESSION}/files/write",
        files_views.SessionFileWriteView.as_view(),
        name="session-file-write",
    ),
    path(
        f"{SESSION}/files/delete",
        files_views.SessionFileDeleteView.as_view(),
        name="session-file-delete",
    ),
    path(
        f"{SESSION}/files/rename",
        files_views.SessionFileRenameView.as_view(),
        name="session-file-rename",
    ),
    path(
        f"{SESSION}/files/search",
        files_views.SessionFileSearchView.as_view(),
        name="session-file-search",
    ),
    path(f"{SESSION}/diff", files_views.SessionDiffView.as_view(), name="session-diff"),
    # A workspace's repository.
    path(f"{GIT}/status", git_views.GitStatusView.as_view(), name="git-status"),
    path(f"{GIT}/fetch", git_views.GitFetchView.as_view(), name="git-fetch"),
    path(f"{GIT}/checkout", git_views.GitCheckoutView.as_view(), name="git-checkout"),
    path(f"{GIT}/branches", git_views.GitBranchesView.as_view(), name="git-branches"),
    path(f"{GIT}/diff", git_views.GitDiffView.as_view(), name="git-diff"),
    path(f"{GIT}/files", git_views.GitFilesView.as_view(), name="git-files"),
    path(f"{GIT}/file", git_views.GitFileView.as_view(), name="git-file"),
    path(f"{GIT}/stage", git_views.GitStageView.as_view(), name="git-stage"),
    path(f"{GIT}/commit", git_views.GitCommitView.as_view(), name="git-commit"),
    path(f"{GIT}/log", git_views.GitLogView.as_view(), name="git-log"),
]

from django.urls import path

from apps.gitops.api import views

SESSION = "projects/<project_id:project_id>/sessions/<session_id:session_id>"
GIT = "projects/<project_id:project_id>/workspaces/<uuid:workspace_id>/git"

urlpatterns = [
    path(f"{SESSION}/files", views.SessionFilesView.as_view(), name="session-files"),
    path(f"{SESSION}/files/read", views.SessionFileReadView.as_view(), name="session-file-read"),
    path(f"{SESSION}/files/write", views.SessionFileWriteView.as_view(), name="session-file-write"),
    path(
        f"{SESSION}/files/delete", views.SessionFileDeleteView.as_view(), name="session-file-delete"
    ),
    path(
        f"{SESSION}/files/rename", views.SessionFileRenameView.as_view(), name="session-file-rename"
    ),
    path(
        f"{SESSION}/files/search", views.SessionFileSearchView.as_view(), name="session-file-search"
    ),
    path(f"{SESSION}/diff", views.SessionDiffView.as_view(), name="session-diff"),
    path(f"{GIT}/status", views.GitStatusView.as_view(), name="git-status"),
    path(f"{GIT}/fetch", views.GitFetchView.as_view(), name="git-fetch"),
    path(f"{GIT}/checkout", views.GitCheckoutView.as_view(), name="git-checkout"),
    path(f"{GIT}/branches", views.GitBranchesView.as_view(), name="git-branches"),
    path(f"{GIT}/diff", views.GitDiffView.as_view(), name="git-diff"),
    path(f"{GIT}/files", views.GitFilesView.as_view(), name="git-files"),
    path(f"{GIT}/file", views.GitFileView.as_view(), name="git-file"),
    path(f"{GIT}/stage", views.GitStageView.as_view(), name="git-stage"),
    path(f"{GIT}/commit", views.GitCommitView.as_view(), name="git-commit"),
    path(f"{GIT}/log", views.GitLogView.as_view(), name="git-log"),
]

"""A workspace's repository (`/workspaces/{id}/git/...`): parse, call `apps.workspaces.git` (or
`apps.workspaces.files` for a file), render."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.workspaces import files, git
from apps.workspaces.api.files_views import READ_ERRORS, WRITE_ERRORS, body, diff_body, query
from apps.workspaces.api.repository_serializers import (
    BranchesSerializer,
    CheckoutSerializer,
    CommitResultSerializer,
    CommitSerializer,
    DiffSerializer,
    FileContentSerializer,
    FileWriteSerializer,
    FileWrittenSerializer,
    GitDiffQuerySerializer,
    GitFileQuerySerializer,
    GitLogSerializer,
    GitStatusSerializer,
    LogQuerySerializer,
    RefQuerySerializer,
    StageSerializer,
    TreeFilesSerializer,
)
from apps.workspaces.models import Workspace
from apps.workspaces.selectors import workspace_get
from discobot.api.requests import AuthenticatedRequest
from discobot.api.serializers import SuccessSerializer


class WorkspaceGitBaseView(ProjectScopedView):
    def workspace(self, workspace_id: str) -> Workspace:
        return workspace_get(project=self.project, workspace_id=workspace_id)


class GitStatusView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Branch, HEAD and changed files of the workspace repository",
        responses={200: GitStatusSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        return Response(git.workspace_git_status(workspace=self.workspace(workspace_id)))


class GitFetchView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Fetch from origin", request=None, responses={200: SuccessSerializer, **READ_ERRORS}
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        git.workspace_git_fetch(workspace=self.workspace(workspace_id))
        return Response({"success": True})


class GitCheckoutView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Check out a branch or commit",
        request=CheckoutSerializer,
        responses={200: CommitResultSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        ref = body(CheckoutSerializer, request)["ref"]
        commit = git.workspace_git_checkout(workspace=self.workspace(workspace_id), ref=ref)
        return Response({"commit": commit})


class GitBranchesView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Local and remote branches",
        responses={200: BranchesSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        branches = git.workspace_git_branches(workspace=self.workspace(workspace_id))
        return Response({"branches": branches})


class GitDiffView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Changes from `base` (default HEAD) to `target` (default: the work tree)",
        parameters=[GitDiffQuerySerializer],
        responses={200: DiffSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        params = query(GitDiffQuerySerializer, request)
        diff = git.workspace_git_diff(
            workspace=self.workspace(workspace_id),
            base=params.get("base") or "HEAD",
            target=params.get("target") or None,
        )
        return Response(diff_body(diff))


class GitFilesView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Every file path at a ref (default HEAD)",
        parameters=[RefQuerySerializer],
        responses={200: TreeFilesSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        ref = query(RefQuerySerializer, request).get("ref") or "HEAD"
        paths = git.workspace_git_files(workspace=self.workspace(workspace_id), ref=ref)
        return Response({"ref": ref, "files": paths})


class GitFileView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Read a file at a ref (default HEAD)",
        parameters=[GitFileQuerySerializer],
        responses={200: FileContentSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        params = query(GitFileQuerySerializer, request)
        content = files.workspace_file_read(
            workspace=self.workspace(workspace_id),
            path=params["path"],
            ref=params.get("ref") or "HEAD",
        )
        return Response(asdict(content))

    @extend_schema(
        summary="Write a file in the work tree",
        request=FileWriteSerializer,
        responses={200: FileWrittenSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        data = body(FileWriteSerializer, request)
        size = files.workspace_file_write(
            workspace=self.workspace(workspace_id),
            path=data["path"],
            content=data["content"],
            encoding=data["encoding"],
            expected=data.get("original"),
        )
        return Response({"path": data["path"], "size": size})


class GitStageView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Stage files (or their deletion): all of them or none",
        request=StageSerializer,
        responses={200: SuccessSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        paths = body(StageSerializer, request)["paths"]
        git.workspace_git_stage(workspace=self.workspace(workspace_id), paths=paths)
        return Response({"success": True})


class GitCommitView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Commit the index (or, with `all`, every change) as the caller",
        request=CommitSerializer,
        responses={200: CommitResultSerializer, **WRITE_ERRORS},
    )
    def post(self, request: AuthenticatedRequest, project_id: str, workspace_id: str) -> Response:
        data = body(CommitSerializer, request)
        commit = git.workspace_git_commit(
            workspace=self.workspace(workspace_id),
            user=request.user,
            message=data["message"],
            all_changes=data["all"],
        )
        return Response({"commit": commit})


class GitLogView(WorkspaceGitBaseView):
    @extend_schema(
        summary="Commits reachable from a ref (default HEAD), newest first",
        parameters=[LogQuerySerializer],
        responses={200: GitLogSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        params = query(LogQuerySerializer, request)
        commits = git.workspace_git_log(
            workspace=self.workspace(workspace_id),
            ref=params.get("ref") or "HEAD",
            limit=params["limit"],
        )
        return Response({"commits": commits})

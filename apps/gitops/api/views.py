from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.gitops import files
from apps.gitops.api.serializers import (
    CheckoutSerializer,
    CommitSerializer,
    DiffSerializer,
    DiffSummarySerializer,
    FileChangeSerializer,
    FileWriteSerializer,
    PathSerializer,
    RenameSerializer,
    SearchQuerySerializer,
    StageSerializer,
)
from apps.gitops.provider import Author, Diff, git_provider
from apps.projects.api.base import ProjectScopedView
from apps.workspaces.selectors import session_get, workspace_get
from discobot.api.schema import error_responses
from discobot.api.serializers import SuccessSerializer
from discobot.errors import ApplicationError, ConflictError

ERRORS = error_responses(400, 401, 404, 409)
FILE_CONTENT = inline_serializer(
    "FileContent",
    {
        "path": serializers.CharField(),
        "content": serializers.CharField(),
        "encoding": serializers.ChoiceField(choices=["utf8", "base64"]),
        "size": serializers.IntegerField(),
    },
)
PATH_PARAM = OpenApiParameter("path", str, description="Relative to the repository root")


def diff_body(diff: Diff, *, summary: bool = False) -> dict[str, Any]:
    serializer = DiffSummarySerializer if summary else DiffSerializer
    return dict(serializer({"files": diff.files, "stats": diff.stats}).data)


def query_flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


class SessionRepositoryView(ProjectScopedView):
    """A view on a session's working copy."""

    def working_copy(self, session_id: str) -> tuple[Path, str]:
        session = session_get(project=self.project, session_id=session_id)
        if not session.workspace_path:
            raise ConflictError("The session's working copy is not ready yet")
        return Path(session.workspace_path), session.workspace_commit


class SessionFilesView(SessionRepositoryView):
    @extend_schema(
        summary="List a folder of the session's working copy",
        parameters=[PATH_PARAM, OpenApiParameter("hidden", bool)],
        responses={
            200: inline_serializer(
                "FolderListing",
                {"path": serializers.CharField(), "entries": serializers.ListField()},
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        root, _ = self.working_copy(session_id)
        path = request.query_params.get("path", ".")
        entries = files.list_directory(root, path, hidden=query_flag(request, "hidden"))
        return Response({"path": path, "entries": entries})


class SessionFileReadView(SessionRepositoryView):
    @extend_schema(
        summary="Read a file (utf8, or base64 for binary); `fromBase` reads the session's base",
        parameters=[PATH_PARAM, OpenApiParameter("fromBase", bool)],
        responses={200: FILE_CONTENT, **ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        root, base = self.working_copy(session_id)
        path = request.query_params.get("path", "")
        if query_flag(request, "fromBase"):
            relative = files.relative_of(root, files.safe_path(root, path))
            data = git_provider().read_blob(root, path=relative, ref=base)
            files.size_check(len(data))
            return Response(asdict(files.encode(relative, data)))
        return Response(asdict(files.read_file(root, path)))


class SessionFileWriteView(SessionRepositoryView):
    @extend_schema(
        summary="Write a file; with `originalContent`, only if it is unchanged (else 409)",
        request=FileWriteSerializer,
        responses={
            200: inline_serializer(
                "FileWritten", {"path": serializers.CharField(), "size": serializers.IntegerField()}
            ),
            **ERRORS,
        },
    )
    def put(self, request: Request, project_id: str, session_id: str) -> Response:
        root, _ = self.working_copy(session_id)
        body = FileWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        size = files.write_file(
            root,
            data["path"],
            content=data["content"],
            encoding=data["encoding"],
            original=data.get("original"),
        )
        return Response({"path": data["path"], "size": size})


class SessionFileDeleteView(SessionRepositoryView):
    @extend_schema(
        summary="Delete a file or folder",
        request=PathSerializer,
        responses={
            200: inline_serializer(
                "FileDeleted", {"path": serializers.CharField(), "type": serializers.CharField()}
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        root, _ = self.working_copy(session_id)
        body = PathSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kind = files.delete_path(root, body.validated_data["path"])
        return Response({"path": body.validated_data["path"], "type": kind})


class SessionFileRenameView(SessionRepositoryView):
    @extend_schema(
        summary="Rename or move a file or folder",
        request=RenameSerializer,
        responses={
            200: inline_serializer(
                "FileRenamed",
                {"oldPath": serializers.CharField(), "newPath": serializers.CharField()},
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        root, _ = self.working_copy(session_id)
        body = RenameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        old, new = body.validated_data["old_path"], body.validated_data["new_path"]
        files.rename_path(root, old, new)
        return Response({"oldPath": old, "newPath": new})


class SessionFileSearchView(SessionRepositoryView):
    @extend_schema(
        summary="Fuzzy search of file paths (best first, at most 200)",
        parameters=[OpenApiParameter("q", str, required=True), OpenApiParameter("limit", int)],
        responses={
            200: inline_serializer("FileSearch", {"results": serializers.ListField()}),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        root, _ = self.working_copy(session_id)
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        results = files.search_files(
            root, query.validated_data["q"], limit=query.validated_data["limit"]
        )
        return Response({"results": results})


class SessionDiffView(SessionRepositoryView):
    @extend_schema(
        summary="The session's changes against its base: all, `format=files`, or one `path`",
        parameters=[PATH_PARAM, OpenApiParameter("format", str, enum=["files"])],
        responses={200: DiffSerializer, **ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        root, base = self.working_copy(session_id)
        path = request.query_params.get("path")
        summary = request.query_params.get("format") == "files"
        diff = git_provider().diff(root, base=base, patches=not summary)
        if path is None:
            return Response(diff_body(diff, summary=summary))
        relative = files.relative_of(root, files.safe_path(root, path))
        for change in diff.files:
            if relative in (change.path, change.old_path):
                return Response(FileChangeSerializer(change).data)
        return Response(
            {
                "path": relative,
                "status": "unchanged",
                "oldPath": None,
                "additions": 0,
                "deletions": 0,
                "binary": False,
                "patch": "",
            }
        )


# --- Workspace repository (`/workspaces/{id}/git/...`) -------------------------------------------


class WorkspaceRepositoryView(ProjectScopedView):
    def repository(self, workspace_id: str) -> Path:
        workspace = workspace_get(project=self.project, workspace_id=workspace_id)
        if not workspace.work_dir:
            raise ConflictError("The workspace is not ready yet")
        return Path(workspace.work_dir)


class GitStatusView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Branch, HEAD and changed files of the workspace repository",
        responses={
            200: inline_serializer(
                "GitStatus",
                {
                    "branch": serializers.CharField(allow_null=True),
                    "commit": serializers.CharField(),
                    "files": serializers.DictField(child=serializers.CharField()),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        root = self.repository(workspace_id)
        git = git_provider()
        current = next((b["name"] for b in git.branches(root) if b["current"]), None)
        return Response({"branch": current, "commit": git.head(root), "files": git.status(root)})


class GitFetchView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Fetch from origin", request=None, responses={200: SuccessSerializer, **ERRORS}
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        git_provider().fetch(self.repository(workspace_id))
        return Response({"success": True})


class GitCheckoutView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Check out a branch or commit",
        request=CheckoutSerializer,
        responses={
            200: inline_serializer("Checkout", {"commit": serializers.CharField()}),
            **ERRORS,
        },
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        body = CheckoutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        commit = git_provider().checkout(self.repository(workspace_id), body.validated_data["ref"])
        return Response({"commit": commit})


class GitBranchesView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Local and remote branches",
        responses={
            200: inline_serializer("Branches", {"branches": serializers.ListField()}),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        return Response({"branches": git_provider().branches(self.repository(workspace_id))})


class GitDiffView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Changes from `base` (default HEAD) to `target` (default: the work tree)",
        parameters=[OpenApiParameter("base", str), OpenApiParameter("target", str)],
        responses={200: DiffSerializer, **ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        diff = git_provider().diff(
            self.repository(workspace_id),
            base=request.query_params.get("base") or "HEAD",
            target=request.query_params.get("target") or None,
        )
        return Response(diff_body(diff))


class GitFilesView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Every file path at a ref (default HEAD)",
        parameters=[OpenApiParameter("ref", str)],
        responses={
            200: inline_serializer(
                "TreeFiles", {"ref": serializers.CharField(), "files": serializers.ListField()}
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        ref = request.query_params.get("ref") or "HEAD"
        return Response(
            {"ref": ref, "files": git_provider().tree_files(self.repository(workspace_id), ref=ref)}
        )


class GitFileView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Read a file at a ref (default HEAD)",
        parameters=[PATH_PARAM, OpenApiParameter("ref", str)],
        responses={200: FILE_CONTENT, **ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        root = self.repository(workspace_id)
        relative = files.relative_of(
            root, files.safe_path(root, request.query_params.get("path", ""))
        )
        data = git_provider().read_blob(
            root, path=relative, ref=request.query_params.get("ref") or "HEAD"
        )
        files.size_check(len(data))
        return Response(asdict(files.encode(relative, data)))

    @extend_schema(
        summary="Write a file in the work tree",
        request=FileWriteSerializer,
        responses={
            200: inline_serializer(
                "GitFileWritten",
                {"path": serializers.CharField(), "size": serializers.IntegerField()},
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        body = FileWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        size = files.write_file(
            self.repository(workspace_id),
            data["path"],
            content=data["content"],
            encoding=data["encoding"],
            original=data.get("original"),
        )
        return Response({"path": data["path"], "size": size})


class GitStageView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Stage paths", request=StageSerializer, responses={200: SuccessSerializer, **ERRORS}
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        root = self.repository(workspace_id)
        body = StageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        paths = [
            files.relative_of(root, files.safe_path(root, p)) for p in body.validated_data["paths"]
        ]
        git_provider().stage(root, paths)
        return Response({"success": True})


class GitCommitView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Commit the index (or, with `all`, every change) as the caller",
        request=CommitSerializer,
        responses={
            200: inline_serializer("Committed", {"commit": serializers.CharField()}),
            **ERRORS,
        },
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        body = CommitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = request.user
        author = Author(
            getattr(user, "name", "") or user.get_username(), getattr(user, "email", "")
        )
        commit = git_provider().commit(
            self.repository(workspace_id),
            message=body.validated_data["message"],
            author=author,
            all_changes=body.validated_data["all"],
        )
        return Response({"commit": commit})


class GitLogView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Commits reachable from a ref (default HEAD), newest first",
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("ref", str)],
        responses={
            200: inline_serializer("GitLog", {"commits": serializers.ListField()}),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        try:
            limit = min(max(int(request.query_params.get("limit", "50")), 1), 500)
        except ValueError:
            raise ApplicationError("limit must be a number") from None
        commits = git_provider().log(
            self.repository(workspace_id),
            ref=request.query_params.get("ref") or "HEAD",
            limit=limit,
        )
        return Response({"commits": commits})

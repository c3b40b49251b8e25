from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.gitops import files
from apps.gitops.api import schema  # noqa: F401 (registers the schema extensions)
from apps.gitops.api.serializers import (
    BranchesSerializer,
    CheckoutSerializer,
    CommitResultSerializer,
    CommitSerializer,
    DiffSerializer,
    DiffSummarySerializer,
    FileChangeSerializer,
    FileContentSerializer,
    FileDeletedSerializer,
    FileQuerySerializer,
    FileRenamedSerializer,
    FileWriteSerializer,
    FileWrittenSerializer,
    FolderListingSerializer,
    FolderQuerySerializer,
    GitDiffQuerySerializer,
    GitFileQuerySerializer,
    GitLogSerializer,
    GitStatusSerializer,
    LogQuerySerializer,
    PathSerializer,
    RefQuerySerializer,
    RenameSerializer,
    SearchQuerySerializer,
    SearchResultsSerializer,
    SessionDiffQuerySerializer,
    SessionDiffSerializer,
    StageSerializer,
    TreeFilesSerializer,
)
from apps.gitops.paths import shown
from apps.gitops.provider import Author, Diff, git_provider
from apps.projects.api.base import ProjectScopedView
from apps.workspaces.models import WorkspaceStatus
from apps.workspaces.selectors import session_get, workspace_get
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer, SuccessSerializer
from discobot.errors import ConflictError

READ_ERRORS = {
    **error_responses(400, 401, 404, 409),
    403: OpenApiResponse(
        ErrorSerializer,
        description="The server may not open the file, or (session cookie) the CSRF check failed",
    ),
}
WRITE_ERRORS = {
    **READ_ERRORS,
    413: OpenApiResponse(ErrorSerializer, description="The request body or the file is too large"),
    415: OpenApiResponse(ErrorSerializer, description="The request body is not JSON"),
}
SESSION_DIFF = PolymorphicProxySerializer(
    component_name="SessionDiffResult",
    serializers=[SessionDiffSerializer, FileChangeSerializer],
    resource_type_field_name=None,
)


def query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The query parameters, checked (400 when one has the wrong type or form). A plain dict,
    not the QueryDict: DRF would read `?path=` as a form's empty field, i.e. as no path."""
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def body(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def diff_body(diff: Diff, *, summary: bool = False) -> dict[str, Any]:
    serializer = DiffSummarySerializer if summary else DiffSerializer
    return dict(serializer({"files": diff.files, "stats": diff.stats}).data)


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
        parameters=[FolderQuerySerializer],
        responses={200: FolderListingSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        params = query(FolderQuerySerializer, request)
        root, _ = self.working_copy(session_id)
        entries = files.list_directory(root, params["path"], hidden=params["hidden"])
        return Response({"path": params["path"], "entries": entries})


class SessionFileReadView(SessionRepositoryView):
    @extend_schema(
        summary="Read a file (utf8, or base64 for binary); `fromBase` reads the session's base",
        parameters=[FileQuerySerializer],
        responses={200: FileContentSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        params = query(FileQuerySerializer, request)
        root, base = self.working_copy(session_id)
        if params["from_base"]:
            relative = files.repository_path(root, params["path"])
            data = git_provider().read_blob(root, path=relative, ref=base)
            files.size_check(len(data))
            return Response(asdict(files.encode(relative, data)))
        return Response(asdict(files.read_file(root, params["path"])))


class SessionFileWriteView(SessionRepositoryView):
    @extend_schema(
        summary="Write a file; with `originalContent`, only if it is unchanged (else 409)",
        request=FileWriteSerializer,
        responses={200: FileWrittenSerializer, **WRITE_ERRORS},
    )
    def put(self, request: Request, project_id: str, session_id: str) -> Response:
        data = body(FileWriteSerializer, request)
        root, _ = self.working_copy(session_id)
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
        summary="Delete a file or folder (a symlink itself, not what it points to)",
        request=PathSerializer,
        responses={200: FileDeletedSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        data = body(PathSerializer, request)
        root, _ = self.working_copy(session_id)
        kind = files.delete_path(root, data["path"])
        return Response({"path": data["path"], "type": kind})


class SessionFileRenameView(SessionRepositoryView):
    @extend_schema(
        summary="Rename or move a file or folder (never onto an existing one, nor into itself)",
        request=RenameSerializer,
        responses={200: FileRenamedSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        data = body(RenameSerializer, request)
        root, _ = self.working_copy(session_id)
        files.rename_path(root, data["old_path"], data["new_path"])
        return Response({"oldPath": data["old_path"], "newPath": data["new_path"]})


class SessionFileSearchView(SessionRepositoryView):
    @extend_schema(
        summary="Fuzzy search of file paths (best first, at most 200)",
        parameters=[SearchQuerySerializer],
        responses={200: SearchResultsSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        params = query(SearchQuerySerializer, request)
        root, _ = self.working_copy(session_id)
        return Response({"results": files.search_files(root, params["q"], limit=params["limit"])})


class SessionDiffView(SessionRepositoryView):
    @extend_schema(
        summary="The session's changes against its base: all, `format=files`, or one `path`",
        description=(
            "`{files, stats}`, where each file has `additions`, `deletions`, `binary` and "
            "`patch` unless `format=files`; with `path`, that one file's change (status "
            "`unchanged` when it has none)."
        ),
        parameters=[SessionDiffQuerySerializer],
        responses={200: SESSION_DIFF, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        params = query(SessionDiffQuerySerializer, request)
        root, base = self.working_copy(session_id)
        if "path" not in params:
            summary = params.get("format") == "files"
            diff = git_provider().diff(root, base=base, patches=not summary)
            return Response(diff_body(diff, summary=summary))
        relative = files.repository_path(root, params["path"])
        for change in git_provider().diff(root, base=base).files:
            if relative in (change.path, change.old_path):
                return Response(FileChangeSerializer(change).data)
        return Response(
            {
                "path": shown(relative),
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
        """The workspace's folder, once it is checked to be the root of a repository the
        server may work on (409 otherwise, before anything is read or written)."""
        workspace = workspace_get(project=self.project, workspace_id=workspace_id)
        if not workspace.work_dir:
            if workspace.status == WorkspaceStatus.READY:
                raise ConflictError("The workspace's folder is not a git repository")
            raise ConflictError("The workspace is not ready yet")
        root = Path(workspace.work_dir)
        git_provider().repository_check(root)
        return root


class GitStatusView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Branch, HEAD and changed files of the workspace repository",
        responses={200: GitStatusSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        root = self.repository(workspace_id)
        git = git_provider()
        current = next((b["name"] for b in git.branches(root) if b["current"]), None)
        return Response({"branch": current, "commit": git.head(root), "files": git.status(root)})


class GitFetchView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Fetch from origin", request=None, responses={200: SuccessSerializer, **READ_ERRORS}
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        git_provider().fetch(self.repository(workspace_id))
        return Response({"success": True})


class GitCheckoutView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Check out a branch or commit",
        request=CheckoutSerializer,
        responses={200: CommitResultSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        ref = body(CheckoutSerializer, request)["ref"]
        commit = git_provider().checkout(self.repository(workspace_id), ref)
        return Response({"commit": commit})


class GitBranchesView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Local and remote branches",
        responses={200: BranchesSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        return Response({"branches": git_provider().branches(self.repository(workspace_id))})


class GitDiffView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Changes from `base` (default HEAD) to `target` (default: the work tree)",
        parameters=[GitDiffQuerySerializer],
        responses={200: DiffSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        params = query(GitDiffQuerySerializer, request)
        root = self.repository(workspace_id)
        diff = git_provider().diff(
            root, base=params.get("base") or "HEAD", target=params.get("target") or None
        )
        return Response(diff_body(diff))


class GitFilesView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Every file path at a ref (default HEAD)",
        parameters=[RefQuerySerializer],
        responses={200: TreeFilesSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        ref = query(RefQuerySerializer, request).get("ref") or "HEAD"
        root = self.repository(workspace_id)
        return Response({"ref": ref, "files": git_provider().tree_files(root, ref=ref)})


class GitFileView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Read a file at a ref (default HEAD)",
        parameters=[GitFileQuerySerializer],
        responses={200: FileContentSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        params = query(GitFileQuerySerializer, request)
        root = self.repository(workspace_id)
        relative = files.repository_path(root, params["path"])
        data = git_provider().read_blob(root, path=relative, ref=params.get("ref") or "HEAD")
        files.size_check(len(data))
        return Response(asdict(files.encode(relative, data)))

    @extend_schema(
        summary="Write a file in the work tree",
        request=FileWriteSerializer,
        responses={200: FileWrittenSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        data = body(FileWriteSerializer, request)
        root = self.repository(workspace_id)
        size = files.write_file(
            root,
            data["path"],
            content=data["content"],
            encoding=data["encoding"],
            original=data.get("original"),
        )
        return Response({"path": data["path"], "size": size})


class GitStageView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Stage files (or their deletion): all of them or none",
        request=StageSerializer,
        responses={200: SuccessSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        requested = body(StageSerializer, request)["paths"]
        root = self.repository(workspace_id)
        paths = [files.repository_path(root, path) for path in requested]
        git_provider().stage(root, paths)
        return Response({"success": True})


class GitCommitView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Commit the index (or, with `all`, every change) as the caller",
        request=CommitSerializer,
        responses={200: CommitResultSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, workspace_id: str) -> Response:
        data = body(CommitSerializer, request)
        root = self.repository(workspace_id)
        user = request.user
        author = Author(
            getattr(user, "name", "") or user.get_username(), getattr(user, "email", "")
        )
        commit = git_provider().commit(
            root, message=data["message"], author=author, all_changes=data["all"]
        )
        return Response({"commit": commit})


class GitLogView(WorkspaceRepositoryView):
    @extend_schema(
        summary="Commits reachable from a ref (default HEAD), newest first",
        parameters=[LogQuerySerializer],
        responses={200: GitLogSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        params = query(LogQuerySerializer, request)
        root = self.repository(workspace_id)
        commits = git_provider().log(root, ref=params.get("ref") or "HEAD", limit=params["limit"])
        return Response({"commits": commits})

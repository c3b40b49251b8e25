"""The files of a session's working copy, and its diff: parse, call `apps.workspaces.files`,
render."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.gitops.provider import Diff
from apps.projects.api.base import ProjectScopedView
from apps.workspaces import files
from apps.workspaces.api import schema  # noqa: F401 (registers the schema extensions)
from apps.workspaces.api.repository_serializers import (
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
    PathSerializer,
    RenameSerializer,
    SearchQuerySerializer,
    SearchResultsSerializer,
    SessionDiffQuerySerializer,
    SessionDiffSerializer,
)
from apps.workspaces.models import Session
from apps.workspaces.selectors import session_get
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer

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


def query(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    """The query parameters, checked (400 when one has the wrong type or form). A plain dict,
    not the QueryDict: DRF would read `?path=` as a form's empty field, i.e. as no path."""
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def body(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def diff_body(diff: Diff, *, summary: bool = False) -> dict[str, Any]:
    serializer = DiffSummarySerializer if summary else DiffSerializer
    return dict(serializer({"files": diff.files, "stats": diff.stats}).data)


class SessionFilesBaseView(ProjectScopedView):
    def session(self, session_id: str) -> Session:
        return session_get(project=self.project, session_id=session_id)


class SessionFilesView(SessionFilesBaseView):
    @extend_schema(
        summary="List a folder of the session's working copy",
        parameters=[FolderQuerySerializer],
        responses={200: FolderListingSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        params = query(FolderQuerySerializer, request)
        entries = files.session_folder_list(
            session=self.session(session_id), path=params["path"], hidden=params["hidden"]
        )
        return Response({"path": params["path"], "entries": entries})


class SessionFileReadView(SessionFilesBaseView):
    @extend_schema(
        summary="Read a file (utf8, or base64 for binary); `fromBase` reads the session's base",
        parameters=[FileQuerySerializer],
        responses={200: FileContentSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        params = query(FileQuerySerializer, request)
        content = files.session_file_read(
            session=self.session(session_id), path=params["path"], from_base=params["from_base"]
        )
        return Response(asdict(content))


class SessionFileWriteView(SessionFilesBaseView):
    @extend_schema(
        summary="Write a file; with `originalContent`, only if it is unchanged (else 409)",
        request=FileWriteSerializer,
        responses={200: FileWrittenSerializer, **WRITE_ERRORS},
    )
    def put(self, request: Request, project_id: str, session_id: str) -> Response:
        data = body(FileWriteSerializer, request)
        size = files.session_file_write(
            session=self.session(session_id),
            path=data["path"],
            content=data["content"],
            encoding=data["encoding"],
            expected=data.get("original"),
        )
        return Response({"path": data["path"], "size": size})


class SessionFileDeleteView(SessionFilesBaseView):
    @extend_schema(
        summary="Delete a file or folder (a symlink itself, not what it points to)",
        request=PathSerializer,
        responses={200: FileDeletedSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        path = body(PathSerializer, request)["path"]
        kind = files.session_file_delete(session=self.session(session_id), path=path)
        return Response({"path": path, "type": kind})


class SessionFileRenameView(SessionFilesBaseView):
    @extend_schema(
        summary="Rename or move a file or folder (never onto an existing one, nor into itself)",
        request=RenameSerializer,
        responses={200: FileRenamedSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        data = body(RenameSerializer, request)
        files.session_file_rename(
            session=self.session(session_id), old_path=data["old_path"], new_path=data["new_path"]
        )
        return Response({"oldPath": data["old_path"], "newPath": data["new_path"]})


class SessionFileSearchView(SessionFilesBaseView):
    @extend_schema(
        summary="Fuzzy search of file paths (best first, at most 200)",
        parameters=[SearchQuerySerializer],
        responses={200: SearchResultsSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        params = query(SearchQuerySerializer, request)
        results = files.session_file_search(
            session=self.session(session_id), query=params["q"], limit=params["limit"]
        )
        return Response({"results": results})


class SessionDiffView(SessionFilesBaseView):
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
        session = self.session(session_id)
        if "path" in params:
            change = files.session_file_diff(session=session, path=params["path"])
            return Response(FileChangeSerializer(change).data)
        summary = params.get("format") == "files"
        diff = files.session_diff(session=session, patches=not summary)
        return Response(diff_body(diff, summary=summary))

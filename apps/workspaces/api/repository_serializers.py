"""Requests and answers of the session files and workspace git endpoints. The fields state the
server's rules (patterns, lengths, enums), so that the published schema accepts exactly what the
server does."""

from __future__ import annotations

from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from rest_framework import serializers

from apps.gitops.files import SEARCH_LIMIT_MAX
from apps.gitops.paths import FILE_PATTERN, FOLDER_PATTERN, PATH_MAX_CHARS, UnsafePath, path_parts
from apps.gitops.provider import REVISION_MAX_LENGTH, REVISION_PATTERN, GitError, revision_check
from apps.workspaces.git import LOG_LIMIT_MAX
from discobot.api.fields import JsonBooleanField
from discobot.api.serializers import StrictSerializer

ENCODINGS = ["utf8", "base64"]
CHANGE_STATUSES = ["added", "modified", "deleted", "renamed"]
STAGE_PATHS_MAX = 1000


class StringOnlyField(serializers.CharField):
    """A string and nothing else: DRF would turn a number into one."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class RepositoryPathField(StringOnlyField):
    """A path relative to a work tree, checked by `path_parts`; with `root_allowed` (a folder
    to list) it may also be empty or `.`."""

    def __init__(self, *, root_allowed: bool = False, **kwargs: Any) -> None:
        self.root_allowed = root_allowed
        kwargs.setdefault("max_length", PATH_MAX_CHARS)
        kwargs.setdefault("allow_blank", root_allowed)
        super().__init__(trim_whitespace=False, **kwargs)
        pattern = FOLDER_PATTERN if root_allowed else FILE_PATTERN
        self.validators.append(RegexValidator(pattern, "Not a path inside the repository"))

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            path_parts(value, root_allowed=self.root_allowed)
        except UnsafePath as error:
            raise serializers.ValidationError(error.message) from None
        return value


class RevisionField(StringOnlyField):
    """A branch, tag or commit (`revision_check`); empty means the default where there is one."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", REVISION_MAX_LENGTH)
        super().__init__(trim_whitespace=False, **kwargs)
        # Where it may be blank, the schema says so apart (drf-spectacular adds `maxLength: 0`).
        self.validators.append(RegexValidator(REVISION_PATTERN, "Not a revision"))

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            revision_check(value)
        except GitError as error:
            raise serializers.ValidationError(error.message) from None
        return value


class AnyTextField(StringOnlyField):
    """Text taken as sent: whitespace kept, NUL characters allowed (a file may hold them)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


# --- Request bodies ------------------------------------------------------------------------------


class FileWriteSerializer(StrictSerializer):
    path = RepositoryPathField()
    content = AnyTextField(allow_blank=True)
    encoding = serializers.ChoiceField(choices=ENCODINGS, default="utf8")
    originalContent = AnyTextField(
        source="original", required=False, allow_null=True, allow_blank=True
    )


class PathSerializer(StrictSerializer):
    path = RepositoryPathField()


class RenameSerializer(StrictSerializer):
    oldPath = RepositoryPathField(source="old_path")
    newPath = RepositoryPathField(source="new_path")


class CheckoutSerializer(StrictSerializer):
    ref = RevisionField()


class StageSerializer(StrictSerializer):
    paths = serializers.ListField(
        child=RepositoryPathField(), min_length=1, max_length=STAGE_PATHS_MAX
    )


class CommitSerializer(StrictSerializer):
    message = StringOnlyField(
        max_length=20_000,
        trim_whitespace=False,
        validators=[RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")],
    )
    all = JsonBooleanField(default=False)


# --- Query parameters ----------------------------------------------------------------------------


class FolderQuerySerializer(serializers.Serializer[Any]):
    path = RepositoryPathField(root_allowed=True, default=".")
    hidden = serializers.BooleanField(default=False)


class FileQuerySerializer(serializers.Serializer[Any]):
    path = RepositoryPathField()
    fromBase = serializers.BooleanField(source="from_base", default=False)


class SearchQuerySerializer(serializers.Serializer[Any]):
    q = AnyTextField(max_length=500)
    limit = serializers.IntegerField(min_value=1, max_value=SEARCH_LIMIT_MAX, default=50)


class SessionDiffQuerySerializer(serializers.Serializer[Any]):
    path = RepositoryPathField(
        required=False, help_text="One file's change (`format` does not apply then)"
    )
    format = serializers.ChoiceField(
        choices=["files"], required=False, help_text="`files`: paths and statuses only"
    )


class GitDiffQuerySerializer(serializers.Serializer[Any]):
    base = RevisionField(required=False, allow_blank=True, help_text="Default HEAD")
    target = RevisionField(required=False, allow_blank=True, help_text="Default: the work tree")


class RefQuerySerializer(serializers.Serializer[Any]):
    ref = RevisionField(required=False, allow_blank=True, help_text="Default HEAD")


class GitFileQuerySerializer(RefQuerySerializer):
    path = RepositoryPathField()


class LogQuerySerializer(RefQuerySerializer):
    limit = serializers.IntegerField(min_value=1, max_value=LOG_LIMIT_MAX, default=50)


# --- Answers -------------------------------------------------------------------------------------


class FolderEntrySerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["file", "directory"])
    size = serializers.IntegerField(required=False, help_text="Files only")


class FolderListingSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    entries = FolderEntrySerializer(many=True)


class FileContentSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    content = serializers.CharField()
    encoding = serializers.ChoiceField(choices=ENCODINGS)
    size = serializers.IntegerField()


class FileWrittenSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    size = serializers.IntegerField()


class FileDeletedSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    type = serializers.ChoiceField(choices=["file", "directory"])


class FileRenamedSerializer(serializers.Serializer[Any]):
    oldPath = serializers.CharField()
    newPath = serializers.CharField()


class SearchResultSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    score = serializers.IntegerField(help_text="Lower is better")


class SearchResultsSerializer(serializers.Serializer[Any]):
    results = SearchResultSerializer(many=True)


class FileChangeSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    # `unchanged` only in the answer about one path (`diff?path=`).
    status = serializers.ChoiceField(choices=[*CHANGE_STATUSES, "unchanged"])
    oldPath = serializers.CharField(source="old_path", allow_null=True)
    additions = serializers.IntegerField()
    deletions = serializers.IntegerField()
    binary = serializers.BooleanField()
    patch = serializers.CharField(allow_null=True)


class FileChangeSummarySerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    status = serializers.ChoiceField(choices=CHANGE_STATUSES)
    oldPath = serializers.CharField(source="old_path", allow_null=True)


class DiffStatsSerializer(serializers.Serializer[Any]):
    filesChanged = serializers.IntegerField()
    additions = serializers.IntegerField()
    deletions = serializers.IntegerField()


class DiffSerializer(serializers.Serializer[Any]):
    files = FileChangeSerializer(many=True)
    stats = DiffStatsSerializer()


class DiffSummarySerializer(serializers.Serializer[Any]):
    files = FileChangeSummarySerializer(many=True)
    stats = DiffStatsSerializer()


class SessionDiffFileSerializer(FileChangeSummarySerializer):
    """For the schema: a session diff's item, whose details `format=files` leaves out."""

    additions = serializers.IntegerField(required=False)
    deletions = serializers.IntegerField(required=False)
    binary = serializers.BooleanField(required=False)
    patch = serializers.CharField(required=False, allow_null=True)


class SessionDiffSerializer(serializers.Serializer[Any]):
    """For the schema: every change, with details unless `format=files`."""

    files = SessionDiffFileSerializer(many=True)
    stats = DiffStatsSerializer()


class GitStatusSerializer(serializers.Serializer[Any]):
    branch = serializers.CharField(allow_null=True)
    commit = serializers.CharField()
    files = serializers.DictField(child=serializers.CharField())


class BranchSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    commit = serializers.CharField()
    current = serializers.BooleanField()
    remote = serializers.BooleanField()


class BranchesSerializer(serializers.Serializer[Any]):
    branches = BranchSerializer(many=True)


class TreeFilesSerializer(serializers.Serializer[Any]):
    ref = serializers.CharField()
    files = serializers.ListField(child=serializers.CharField())


class CommitInfoSerializer(serializers.Serializer[Any]):
    sha = serializers.CharField()
    message = serializers.CharField()
    authorName = serializers.CharField()
    authorEmail = serializers.CharField()
    time = serializers.IntegerField()
    parents = serializers.ListField(child=serializers.CharField())


class GitLogSerializer(serializers.Serializer[Any]):
    commits = CommitInfoSerializer(many=True)


class CommitResultSerializer(serializers.Serializer[Any]):
    commit = serializers.CharField()

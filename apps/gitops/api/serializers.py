from __future__ import annotations

from rest_framework import serializers

from apps.gitops.files import SEARCH_LIMIT_MAX
from discobot.api.serializers import StrictSerializer

ENCODINGS = ["utf8", "base64"]


class FileWriteSerializer(StrictSerializer):
    path = serializers.CharField(max_length=4096)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    encoding = serializers.ChoiceField(choices=ENCODINGS, default="utf8")
    originalContent = serializers.CharField(
        source="original", required=False, allow_null=True, allow_blank=True, trim_whitespace=False
    )


class PathSerializer(StrictSerializer):
    path = serializers.CharField(max_length=4096)


class RenameSerializer(StrictSerializer):
    oldPath = serializers.CharField(source="old_path", max_length=4096)
    newPath = serializers.CharField(source="new_path", max_length=4096)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=500)
    limit = serializers.IntegerField(min_value=1, max_value=SEARCH_LIMIT_MAX, default=50)


class CheckoutSerializer(StrictSerializer):
    ref = serializers.CharField(max_length=500)


class StageSerializer(StrictSerializer):
    paths = serializers.ListField(child=serializers.CharField(max_length=4096), min_length=1)


class CommitSerializer(StrictSerializer):
    message = serializers.CharField(max_length=20_000)
    all = serializers.BooleanField(default=False)


class FileChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    status = serializers.CharField()
    oldPath = serializers.CharField(source="old_path", allow_null=True)
    additions = serializers.IntegerField()
    deletions = serializers.IntegerField()
    binary = serializers.BooleanField()
    patch = serializers.CharField(allow_null=True)


class FileChangeSummarySerializer(serializers.Serializer):
    path = serializers.CharField()
    status = serializers.CharField()
    oldPath = serializers.CharField(source="old_path", allow_null=True)


class DiffStatsSerializer(serializers.Serializer):
    filesChanged = serializers.IntegerField()
    additions = serializers.IntegerField()
    deletions = serializers.IntegerField()


class DiffSerializer(serializers.Serializer):
    files = FileChangeSerializer(many=True)
    stats = DiffStatsSerializer()


class DiffSummarySerializer(serializers.Serializer):
    files = FileChangeSummarySerializer(many=True)
    stats = DiffStatsSerializer()

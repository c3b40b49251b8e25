from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.accounts.models import ApiToken, User, UserPreference
from apps.accounts.services import PREFERENCE_KEY, PREFERENCE_VALUE_MAX_BYTES
from discobot.api.fields import NO_NUL, DateTimeField, StringMapField, TextField
from discobot.api.serializers import BlankAsNullField, DisplayNameField, StrictSerializer


@extend_schema_serializer(component_name="User")
class UserOutputSerializer(serializers.ModelSerializer[User]):
    avatarUrl = BlankAsNullField(source="avatar_url")

    class Meta:
        model = User
        fields = ("id", "email", "name", "avatarUrl", "provider")


@extend_schema_serializer(component_name="ApiTokenInput")
class ApiTokenInputSerializer(StrictSerializer):
    name = DisplayNameField(max_length=100)
    expiresAt = DateTimeField(
        source="expires_at",
        required=False,
        allow_null=True,
        help_text="In the future (a past time is refused with 400); null: the token never expires",
    )


@extend_schema_serializer(component_name="ApiToken")
class ApiTokenOutputSerializer(serializers.ModelSerializer[ApiToken]):
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)

    class Meta:
        model = ApiToken
        fields = ("id", "name", "prefix", "createdAt", "expiresAt", "lastUsedAt")


@extend_schema_serializer(component_name="NewApiToken")
class NewApiTokenOutputSerializer(ApiTokenOutputSerializer):
    """Carries the plain token: it exists only in this one answer."""

    token = serializers.SerializerMethodField()

    class Meta(ApiTokenOutputSerializer.Meta):
        fields = ("id", "name", "prefix", "createdAt", "expiresAt", "lastUsedAt", "token")  # type: ignore[assignment]

    def get_token(self, token: ApiToken) -> str:
        return str(self.context["token"])


VALUE_HELP = (
    f"A string (JSON inside when structured) of at most {PREFERENCE_VALUE_MAX_BYTES // 1024} KiB "
    "of UTF-8"
)


@extend_schema_serializer(component_name="UserPreference")
class PreferenceOutputSerializer(serializers.ModelSerializer[UserPreference]):
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = UserPreference
        fields = ("key", "value", "updatedAt")


@extend_schema_serializer(component_name="UserPreferenceInput")
class PreferenceInputSerializer(StrictSerializer):
    value = TextField(allow_blank=True, help_text=VALUE_HELP)


@extend_schema_serializer(component_name="UserPreferencesInput")
class PreferencesInputSerializer(StrictSerializer):
    preferences = StringMapField(
        names=f"^{PREFERENCE_KEY}$",
        values=NO_NUL,
        what="preferences",
        help_text=f"Keys to set, each to its value ({VALUE_HELP}); other keys are kept",
    )

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.projects.models import Project, ProjectInvitation, ProjectMember, Role
from apps.projects.services import INVITABLE_ROLES
from discobot.api.fields import TextField
from discobot.api.serializers import BlankAsNullField, DisplayNameField, StrictSerializer


@extend_schema_serializer(component_name="ProjectInput")
class ProjectInputSerializer(StrictSerializer):
    name = DisplayNameField(max_length=200)


@extend_schema_serializer(component_name="Project")
class ProjectOutputSerializer(serializers.ModelSerializer[Project]):
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Project
        fields = ("id", "name", "slug", "createdAt", "updatedAt")


@extend_schema_serializer(component_name="Member")
class MemberOutputSerializer(serializers.ModelSerializer[ProjectMember]):
    projectId = serializers.CharField(source="project_id")
    userId = serializers.UUIDField(source="user_id")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    avatarUrl = BlankAsNullField(source="user.avatar_url")
    invitedAt = serializers.DateTimeField(source="invited_at", allow_null=True)
    acceptedAt = serializers.DateTimeField(source="accepted_at", allow_null=True)

    class Meta:
        model = ProjectMember
        fields = (
            "id",
            "projectId",
            "userId",
            "role",
            "email",
            "name",
            "avatarUrl",
            "invitedAt",
            "acceptedAt",
        )


# The addresses Django's EmailValidator takes, less the rare forms (quoted local parts, IP
# literals, `localhost`, internationalised domains) a published pattern could not follow.
EMAIL_PATTERN = (
    "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:[.][A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    "@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?[.])+[A-Za-z0-9-]{1,62}[A-Za-z0-9]$"
)


@extend_schema_serializer(component_name="InvitationInput")
class InvitationInputSerializer(StrictSerializer):
    email = TextField(max_length=254, pattern=EMAIL_PATTERN, message="Enter a valid email address.")
    role = serializers.ChoiceField(
        choices=[role.value for role in INVITABLE_ROLES], default=Role.MEMBER
    )


@extend_schema_serializer(component_name="InvitationAccept")
class InvitationAcceptSerializer(StrictSerializer):
    token = TextField(max_length=200)


@extend_schema_serializer(component_name="Invitation")
class InvitationOutputSerializer(serializers.ModelSerializer[ProjectInvitation]):
    """Carries the plain token: it exists only in this one answer."""

    projectId = serializers.CharField(source="project_id")
    # As invited (EMAIL_PATTERN): not every such address passes `format: email` checks.
    email = serializers.CharField()
    token = serializers.SerializerMethodField()
    expiresAt = serializers.DateTimeField(source="expires_at")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = ProjectInvitation
        fields = ("id", "projectId", "email", "role", "token", "expiresAt", "createdAt")

    def get_token(self, invitation: ProjectInvitation) -> str:
        return str(self.context["token"])

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from discobot.models import TimestampedModel, UUIDModel

# The anonymous-mode project; the web app hard-codes this id (contract §1).
LOCAL_PROJECT_ID = "local"


def new_project_id() -> str:
    return str(uuid.uuid4())


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"

    @property
    def rank(self) -> int:
        return {"member": 0, "admin": 1, "owner": 2}[self.value]


class Project(TimestampedModel):
    # Text, not a UUID column: every project gets a UUID string except the `local` one.
    id = models.CharField(primary_key=True, max_length=36, default=new_project_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    # Last ProjectEvent.seq handed out; bumped under the row lock so seqs commit in order.
    last_event_seq = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class ProjectMember(UUIDModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    invited_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(fields=("project", "user"), name="unique_member_per_project"),
        )

    def __str__(self) -> str:
        return f"{self.user_id} in {self.project_id} ({self.role})"

    def has_role(self, required: Role) -> bool:
        return Role(self.role).rank >= required.rank


class ProjectInvitation(UUIDModel):
    """An open invitation; only the SHA-256 of its token is stored, the token is shown once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("project", "email"), name="unique_invitation_per_project_email"
            ),
        )

    def __str__(self) -> str:
        return f"{self.email} to {self.project_id}"


class ProjectEvent(UUIDModel):
    """A change a project's clients must hear about, in order (`seq` counts per project)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=50)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("project", "seq")
        constraints = (
            models.UniqueConstraint(fields=("project", "seq"), name="unique_event_seq_per_project"),
        )

    def __str__(self) -> str:
        return f"{self.project_id}#{self.seq} {self.type}"

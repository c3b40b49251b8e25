from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models

from discobot.models import TimestampedModel

ANONYMOUS_USER_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
ANONYMOUS_USER_EMAIL = "anonymous@local"
ANONYMOUS_USER_NAME = "Anonymous User"


class AuthProvider(models.TextChoices):
    LOCAL = "local", "Local"
    GITHUB = "github", "GitHub"
    GOOGLE = "google", "Google"


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin, TimestampedModel):
    """A person who signs in through GitHub or Google, or the anonymous user of local mode."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    provider = models.CharField(
        max_length=20, choices=AuthProvider.choices, default=AuthProvider.LOCAL
    )
    provider_id = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin site.")

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("email",)
        constraints = (
            models.UniqueConstraint(
                fields=("provider", "provider_id"),
                condition=~models.Q(provider_id=""),
                name="unique_user_per_provider_identity",
            ),
        )

    def __str__(self) -> str:
        return self.email

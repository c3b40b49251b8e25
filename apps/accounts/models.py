from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.base_session import AbstractBaseSession
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


class UserSession(AbstractBaseSession):
    """A browser login. The cookie holds the token; only its SHA-256 is stored (contract §1)."""

    # Not the cookie value, as in Django's own table: the SHA-256 of it.
    session_key = models.CharField("token hash", primary_key=True, max_length=64, editable=False)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="sessions"
    )

    class Meta:
        ordering = ("-expire_date",)

    def __str__(self) -> str:
        return f"session of {self.user_id or 'nobody'} until {self.expire_date:%Y-%m-%d}"

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        from apps.accounts.sessions import SessionStore

        return SessionStore


class ApiToken(TimestampedModel):
    """A personal token for scripts and the CLI (`Authorization: Bearer ...`), stored hashed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, so its owner can tell tokens apart.
    prefix = models.CharField(max_length=12, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class UserPreference(models.Model):
    """One setting of the web app a user keeps on the server (`preferredIDE`, pinned prompts):
    a string, JSON inside when the app stores something structured."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="preferences")
    key = models.CharField(max_length=100)
    value = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("key",)
        constraints = (
            models.UniqueConstraint(fields=("user", "key"), name="one_preference_per_user_key"),
        )

    def __str__(self) -> str:
        return f"{self.key} of {self.user_id}"

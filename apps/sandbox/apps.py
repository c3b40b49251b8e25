from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Where a session's processes run: a container per session, or the server itself."""

    name = "apps.sandbox"
    label = "sandbox"
    default_auto_field = "django.db.models.BigAutoField"

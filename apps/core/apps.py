from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The platform under every domain app: jobs, durable streams, encryption of secrets."""

    name = "apps.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the readiness check that a worker is taking jobs, for /readyz, the job
        # queue's series in /metrics, and the platform's start-up checks of its settings.
        from apps.core import jobs, metrics  # noqa: F401
        from discobot import checks  # noqa: F401

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The platform under every domain app: jobs, durable streams, encryption of secrets."""

    name = "apps.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.audit import housekeeping  # noqa: F401 (registers the daily prune)
        from apps.audit.receivers import receivers_connect

        receivers_connect()

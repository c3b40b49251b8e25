from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "apps.workspaces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the checks, the job handlers, the housekeeping passes, the receivers and
        # the sandboxes' series in /metrics.
        from apps.workspaces import checks, housekeeping, metrics, receivers, tasks  # noqa: F401

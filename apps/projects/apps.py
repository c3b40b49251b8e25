from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the job handlers' readiness check (a worker is taking jobs) for /readyz.
        from apps.projects import jobs  # noqa: F401

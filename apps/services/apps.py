from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "apps.services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.services import housekeeping  # noqa: F401 (registers the run watch)
        from apps.services.receivers import sandbox_stopping_services
        from apps.workspaces.signals import sandbox_stopping

        sandbox_stopping.connect(sandbox_stopping_services, dispatch_uid="services.stop")

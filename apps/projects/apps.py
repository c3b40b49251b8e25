from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core.jobs import job_finished
        from apps.projects.receivers import job_finished_announce

        job_finished.connect(job_finished_announce, dispatch_uid="projects.job_completed")

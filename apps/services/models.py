from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.workspaces.models import SandboxUse, Session
from discobot.models import UUIDModel


class ServiceStatus(models.TextChoices):
    # The words of the agent API's services (stopped → starting → running → stopped, or error).
    STOPPED = "stopped", "Stopped"
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    ERROR = "error", "Exited with an error"


class ServiceRun(UUIDModel):
    """The current (or last) run of one service of a session: one row per service, replaced
    by each start. Its id names the run's folder of output files in the working copy."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="service_runs")
    service_id = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=ServiceStatus.choices)
    pid = models.IntegerField(null=True, blank=True)  # the run's process group, in the sandbox
    port = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    # Holds the sandbox awake while the run lives (apps.workspaces.sandboxes).
    use = models.OneToOneField(
        SandboxUse, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("session", "service_id"), name="service_run_once"),
        )

    def __str__(self) -> str:
        return f"{self.service_id} of {self.session_id}: {self.status}"

    @property
    def live(self) -> bool:
        return self.status in (ServiceStatus.STARTING, ServiceStatus.RUNNING)

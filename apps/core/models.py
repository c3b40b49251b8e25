from __future__ import annotations

from django.db import models

from discobot.models import UUIDModel


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class Job(UUIDModel):
    """A piece of long work on a project's resource, run by a worker, retried, recovered.

    Each attempt is one django-tasks task; the job row holds what the client sees and what
    retries and recovery need (attempts, the running attempt's lease).
    """

    # By name: the table belongs to a project (deleting it deletes its jobs), but the platform's
    # code imports no domain app.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="jobs")
    # No choices: the app that owns a job type registers it (`job_handler`), here is only a name.
    type = models.CharField(max_length=30)
    resource_type = models.CharField(max_length=20)
    resource_id = models.CharField(max_length=65)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField()
    error = models.TextField(blank=True)
    run_after = models.DateTimeField(null=True, blank=True)
    # A running attempt renews its lease; one whose lease ran out lost its worker.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=100, blank=True)
    # The request that enqueued the job: its attempts' log lines carry the same id.
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table was created by the projects app, before jobs became the platform's.
        db_table = "projects_job"
        ordering = ("created_at", "id")
        indexes = (
            models.Index(fields=("status", "lease_expires_at"), name="job_lease_idx"),
            models.Index(fields=("resource_type", "resource_id"), name="job_resource_idx"),
        )

    def __str__(self) -> str:
        return f"{self.type} {self.resource_id} ({self.status})"

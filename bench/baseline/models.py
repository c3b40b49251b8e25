import uuid

from django.db import models


class Project(models.Model):
    id = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    last_event_seq = models.BigIntegerField(default=0)


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="workspaces")
    path = models.CharField(max_length=1000)
    display_name = models.CharField(max_length=200, blank=True)
    source_type = models.CharField(max_length=10, default="local")
    provider = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, default="initializing")
    error_message = models.TextField(blank=True)
    commit = models.CharField(max_length=64, blank=True)
    work_dir = models.CharField(max_length=1000, blank=True)
    progress = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")


class Session(models.Model):
    id = models.CharField(max_length=65, primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, default="ready")
    commit_status = models.CharField(max_length=20, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


# What adding a workspace writes besides the workspace, in any app that does the equivalent of
# Discobot's: who did it (an audit entry), an event for the project's live clients (numbered
# per project), and the job that prepares the folder.
class AuditEntry(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    # No constraint: syncdb creates this app's tables before auth's (PostgreSQL checks it).
    actor = models.ForeignKey(
        "auth.User", null=True, on_delete=models.SET_NULL, db_constraint=False
    )
    action = models.CharField(max_length=50)
    target_id = models.CharField(max_length=100)
    changes = models.JSONField(default=dict)
    address = models.GenericIPAddressField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Event(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    seq = models.BigIntegerField()
    type = models.CharField(max_length=50)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = (("project", "seq"),)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    type = models.CharField(max_length=50)
    resource_id = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="pending")
    created_at = models.DateTimeField(auto_now_add=True)

"""The project event log: a gapless, per-project sequence."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections

from apps.projects.events import SessionUpdated, WorkspaceUpdated
from apps.projects.models import ProjectEvent
from apps.projects.services import project_event_record


@pytest.mark.django_db
def test_each_project_counts_its_own_events_from_one(project, other_project):
    first = project_event_record(
        project_id=project.id, event=WorkspaceUpdated(workspace_id="w1", status="ready")
    )
    second = project_event_record(
        project_id=project.id, event=SessionUpdated(session_id="s1", status="ready")
    )
    other = project_event_record(
        project_id=other_project.id, event=WorkspaceUpdated(workspace_id="w2", status="ready")
    )

    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    project.refresh_from_db()
    assert project.last_event_seq == 2


# serialized_rollback: the flush after a transactional test would drop the seeded `local` project.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_get_distinct_gapless_seqs(project):
    errors: list[Exception] = []

    def write_events() -> None:
        try:
            for _ in range(10):
                project_event_record(
                    project_id=project.id, event=SessionUpdated(session_id="s1", status="ready")
                )
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=write_events) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    seqs = sorted(ProjectEvent.objects.filter(project=project).values_list("seq", flat=True))
    assert seqs == list(range(1, 41))

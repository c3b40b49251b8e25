"""On SQLite, writers take turns (discobot/sqlite3/base.py): the next one begins as soon as
the last one ends, whether it committed or rolled back."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from apps.projects.models import Project
from tests.projects.factories import ProjectFactory

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's writers only"),
]


def in_thread(work) -> threading.Thread:
    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_writer_begins_when_the_one_before_it_commits_and_sees_its_write():
    project = ProjectFactory.create(name="Before")
    first_in = threading.Event()
    moments: dict[str, float] = {}
    seen: list[str] = []

    def first() -> None:
        with transaction.atomic():
            Project.objects.filter(id=project.id).update(name="First")
            first_in.set()
            time.sleep(0.3)
        moments["first committed"] = time.monotonic()

    def second() -> None:
        first_in.wait(10)
        with transaction.atomic():
            moments["second began"] = time.monotonic()
            seen.append(Project.objects.get(id=project.id).name)
            Project.objects.filter(id=project.id).update(name="Second")

    threads = [in_thread(first), in_thread(second)]
    for thread in threads:
        thread.join(30)

    assert moments["second began"] >= moments["first committed"] - 0.01
    assert seen == ["First"]
    assert Project.objects.get(id=project.id).name == "Second"


def test_a_rolled_back_writer_lets_the_next_one_in():
    project = ProjectFactory.create(name="Kept")

    with pytest.raises(RuntimeError), transaction.atomic():
        Project.objects.filter(id=project.id).update(name="Undone")
        raise RuntimeError("changed my mind")

    done = in_thread(lambda: Project.objects.filter(id=project.id).update(name="Next"))
    done.join(30)
    assert not done.is_alive()
    assert Project.objects.get(id=project.id).name == "Next"


def test_a_writer_that_waits_past_the_timeout_gets_database_is_locked(settings):
    holding = threading.Event()
    release = threading.Event()
    errors: list[Exception] = []

    def holder() -> None:
        with transaction.atomic():
            holding.set()
            release.wait(30)

    def waiter() -> None:
        connections["default"].settings_dict["OPTIONS"]["timeout"] = 0.2
        try:
            with transaction.atomic():
                pass
        except OperationalError as error:
            errors.append(error)

    options = dict(connection.settings_dict["OPTIONS"])
    try:
        held = in_thread(holder)
        holding.wait(10)
        waited = in_thread(waiter)
        waited.join(30)
    finally:
        release.set()
        held.join(30)
        connection.settings_dict["OPTIONS"] = options

    assert [str(error) for error in errors] == ["database is locked"]

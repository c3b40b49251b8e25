"""The worker's housekeeping passes: each runs at once, then every interval, and one that
fails runs again at its next turn without stopping the others."""

from __future__ import annotations

import threading

import pytest

from apps.core import housekeeping
from apps.core.housekeeping import HousekeepingTask, housekeeping_forever
from tests.waiting import wait_for


@pytest.fixture
def registry(monkeypatch) -> dict[str, HousekeepingTask]:
    """Only this test's passes (the apps' own need a database)."""
    passes: dict[str, HousekeepingTask] = {}
    monkeypatch.setattr(housekeeping, "HOUSEKEEPING", passes)
    return passes


@pytest.fixture
def running(registry):
    stop = threading.Event()
    runner = threading.Thread(target=housekeeping_forever, args=(stop,), daemon=True)

    def start() -> None:
        runner.start()

    yield start
    stop.set()
    runner.join(timeout=30)
    assert not runner.is_alive()


def test_the_apps_register_their_passes():
    assert {"sandbox reconcile", "sandbox idle stop", "terminal history prune"} <= set(
        housekeeping.HOUSEKEEPING
    )


def test_a_registered_pass_runs_at_start_up_then_every_interval(registry, running):
    runs: list[int] = []
    housekeeping.housekeeping("count", interval=lambda: 0.05)(lambda: runs.append(1))
    assert "count" in registry

    running()

    wait_for(lambda: len(runs) >= 3, timeout=30, interval=0.02)


def test_a_pass_that_fails_runs_again_and_the_others_go_on(registry, running):
    attempts: list[int] = []
    others: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the engine hiccuped")

    housekeeping.housekeeping("flaky", interval=lambda: 0.05)(flaky)
    housekeeping.housekeeping("other", interval=lambda: 0.05)(lambda: others.append(1))

    running()

    wait_for(lambda: len(attempts) >= 3 and len(others) >= 3, timeout=30, interval=0.02)


def test_a_pass_waits_for_its_interval(registry, running):
    runs: list[int] = []
    housekeeping.housekeeping("slow", interval=lambda: 3600)(lambda: runs.append(1))
    housekeeping.housekeeping("fast", interval=lambda: 0.05)(lambda: runs.append(2))

    running()

    wait_for(lambda: runs.count(2) >= 3, timeout=30, interval=0.02)
    assert runs.count(1) == 1  # once at start-up, not again within the hour

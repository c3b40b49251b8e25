"""Long-running loops each app registers, run by every `manage.py worker` beside its jobs.

The worker's job loop runs one job at a time; work that must run many at once and start at
once (the agent's chat turns) runs in a runner instead: a thread of its own, started with the
worker and told to stop (`stop` set) when it stops. Core knows runners only by name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

Runner = Callable[[threading.Event], None]
RUNNERS: dict[str, Runner] = {}


def runner(name: str) -> Callable[[Runner], Runner]:
    """Registers `run(stop)`, run in its own thread by every worker until `stop` is set."""

    def register(run: Runner) -> Runner:
        RUNNERS[name] = run
        return run

    return register


def runners_start(stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for name, run in RUNNERS.items():
        thread = threading.Thread(target=runner_guarded, args=(name, run, stop), name=name)
        thread.start()
        threads.append(thread)
    return threads


def runner_guarded(name: str, run: Runner, stop: threading.Event) -> None:
    """Runs `run` again after it fails, until the worker stops."""
    while not stop.is_set():
        try:
            run(stop)
        except Exception:
            logger.exception("runner %s failed; starting it again", name)
            stop.wait(1.0)

"""Long-running loops each app registers, run by every `manage.py worker` beside its jobs.

The worker's job loop runs one job at a time; work that must run many at once and start at
once (the agent's chat turns) runs in a runner instead: a thread of its own, started with the
worker and told to stop (`stop` set) when it stops. Core knows runners only by name, and
imports one only when a worker starts it: other processes never load what a runner needs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

Runner = Callable[[threading.Event], None]
RUNNERS: dict[str, str] = {}  # name: the dotted path of its `run`


def runner_register(name: str, path: str) -> None:
    """Registers `run(stop)` (named by its dotted path), run in its own thread by every worker
    until `stop` is set."""
    RUNNERS[name] = path


def runners_start(stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for name, path in RUNNERS.items():
        run: Runner = import_string(path)
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

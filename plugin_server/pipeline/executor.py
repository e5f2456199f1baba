"""The executor interface: how a job hands its clips to whatever runs them.

The local `WorkerPool` (workers.py) is one executor; a distributed one only has to honour the
same two promises: every submitted task gets exactly one call of `run(engine)` or
`fail(error)`, and a task whose `cancel` is set is failed (or stops) promptly.
"""

from __future__ import annotations

import threading
from typing import Protocol

from plugin_server.engines.base import Engine


class ExecutorStopped(RuntimeError):
    """The executor is shutting down and takes no more tasks."""


class ClipTask(Protocol):
    """One clip's work as an executor sees it."""

    job_id: str
    clip_id: str
    engine_name: str
    cancel: threading.Event

    def run(self, engine: Engine) -> None:
        """Generate and write the clip with `engine`; reports its own outcome."""
        ...

    def fail(self, error: BaseException) -> None:
        """Called instead of run() when no engine could be made or the executor stopped."""
        ...


class ClipExecutor(Protocol):
    def submit(self, task: ClipTask) -> None:
        """Queue `task`; raises ExecutorStopped when no longer taking tasks."""
        ...

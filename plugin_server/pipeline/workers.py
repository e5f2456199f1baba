"""The worker pool: one thread per device slot, each owning its engines, fed fairly by job.

A slot is a device name ("cuda:0", "cuda:1", or "cpu"); a GPU gets exactly one worker so two
clips never fight over its memory. Queued clips are taken round-robin across jobs, so a short
job submitted behind a long one starts at once instead of waiting for the long one to drain.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from plugin_server.engines.base import Cancelled, Engine
from plugin_server.pipeline.executor import ClipTask, ExecutorStopped

log = logging.getLogger(__name__)

DeviceEngineFactory = Callable[[str, str], Engine]
"""(engine name, device) -> a new engine instance bound to that device."""


class WorkerPool:
    """Runs ClipTasks on one thread per device slot. Thread-safe."""

    def __init__(
        self,
        devices: Sequence[str],
        engine_factory: DeviceEngineFactory,
        *,
        on_queue_depth: Callable[[int], None] | None = None,
    ) -> None:
        if not devices:
            raise ValueError("a worker pool needs at least one device slot")
        self.devices = tuple(devices)
        self._engine_factory = engine_factory
        self._on_queue_depth = on_queue_depth
        self._queues: OrderedDict[str, deque[ClipTask]] = OrderedDict()
        self._depth = 0
        self._busy = 0
        self._stopping = False
        self._condition = threading.Condition()
        self._threads = [
            threading.Thread(target=self._work, args=(device,), name=f"foley-worker-{device}")
            for device in self.devices
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    @property
    def size(self) -> int:
        return len(self.devices)

    def queue_depth(self) -> int:
        with self._condition:
            return self._depth

    def busy_workers(self) -> int:
        with self._condition:
            return self._busy

    def submit(self, task: ClipTask) -> None:
        with self._condition:
            if self._stopping:
                raise ExecutorStopped("the worker pool is shutting down")
            self._queues.setdefault(task.job_id, deque()).append(task)
            self._depth += 1
            depth = self._depth
            self._condition.notify()
        self._report_depth(depth)

    def shutdown(self, *, wait: bool = True, timeout_s: float | None = None) -> None:
        """Stop taking tasks; tasks still queued are failed as cancelled; running ones finish."""
        with self._condition:
            self._stopping = True
            pending = [task for tasks in self._queues.values() for task in tasks]
            self._queues.clear()
            self._depth = 0
            self._condition.notify_all()
        self._report_depth(0)
        for task in pending:
            task.fail(Cancelled("the server is shutting down"))
        if wait:
            for thread in self._threads:
                thread.join(timeout_s)

    def _next_task(self) -> ClipTask | None:
        with self._condition:
            while not self._queues and not self._stopping:
                self._condition.wait()
            if self._stopping:
                return None
            job_id, tasks = next(iter(self._queues.items()))
            task = tasks.popleft()
            if tasks:
                self._queues.move_to_end(job_id)
            else:
                del self._queues[job_id]
            self._depth -= 1
            self._busy += 1
            depth = self._depth
        self._report_depth(depth)
        return task

    def _work(self, device: str) -> None:
        engines: dict[str, Engine] = {}
        while (task := self._next_task()) is not None:
            try:
                self._run(task, device, engines)
            finally:
                with self._condition:
                    self._busy -= 1

    def _run(self, task: ClipTask, device: str, engines: dict[str, Engine]) -> None:
        if task.cancel.is_set():
            task.fail(Cancelled("the job was cancelled"))
            return
        engine = engines.get(task.engine_name)
        if engine is None:
            try:
                engine = self._engine_factory(task.engine_name, device)
            except Exception as error:  # any failure to start is this clip's problem
                task.fail(error)
                return
            engines[task.engine_name] = engine
            log.info("engine %r ready on %s", task.engine_name, device)
        task.run(engine)

    def _report_depth(self, depth: int) -> None:
        if self._on_queue_depth is not None:
            self._on_queue_depth(depth)

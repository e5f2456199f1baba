"""The worker pool: fair across jobs, engines made once per worker, cancellation, shutdown."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from plugin_server.engines.base import Cancelled, EngineUnavailable
from plugin_server.pipeline.workers import WorkerPool


@dataclass
class RecordingTask:
    """A ClipTask that records what the pool did with it."""

    job_id: str
    clip_id: str
    log: list[str]
    engine_name: str = "test"
    cancel: threading.Event = field(default_factory=threading.Event)
    block: threading.Event | None = None
    failure: BaseException | None = None
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self, engine: object) -> None:
        self.log.append(f"{self.job_id}/{self.clip_id}")
        self.started.set()
        if self.block is not None:
            self.block.wait(5)
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self.failure = error
        self.done.set()


def test_queued_clips_are_taken_round_robin_across_jobs() -> None:
    log: list[str] = []
    gate = threading.Event()
    pool = WorkerPool(["cpu"], lambda name, device: object())
    try:
        first = RecordingTask("A", "1", log, block=gate)
        pool.submit(first)
        assert first.started.wait(5)
        tasks = [RecordingTask("A", str(i), log) for i in (2, 3)] + [RecordingTask("B", "1", log)]
        for task in tasks:
            pool.submit(task)
        assert pool.queue_depth() == 3
        gate.set()
        assert all(task.done.wait(5) for task in tasks)
        assert log == ["A/1", "A/2", "B/1", "A/3"]
        assert pool.queue_depth() == 0
    finally:
        pool.shutdown()


def test_each_worker_makes_an_engine_once_per_engine_name() -> None:
    made: list[tuple[str, str]] = []
    pool = WorkerPool(["cpu"], lambda name, device: made.append((name, device)) or object())
    try:
        tasks = [RecordingTask("A", str(i), []) for i in range(3)]
        for task in tasks:
            pool.submit(task)
        assert all(task.done.wait(5) for task in tasks)
        assert made == [("test", "cpu")]
    finally:
        pool.shutdown()


def test_a_cancelled_job_is_failed_without_running() -> None:
    log: list[str] = []
    pool = WorkerPool(["cpu"], lambda name, device: object())
    try:
        task = RecordingTask("A", "1", log)
        task.cancel.set()
        pool.submit(task)
        assert task.done.wait(5)
        assert isinstance(task.failure, Cancelled)
        assert log == []
    finally:
        pool.shutdown()


def test_an_engine_that_cannot_start_fails_the_clip() -> None:
    def factory(name: str, device: str) -> object:
        raise EngineUnavailable("no weights in /nowhere")

    pool = WorkerPool(["cpu"], factory)
    try:
        task = RecordingTask("A", "1", [])
        pool.submit(task)
        assert task.done.wait(5)
        assert isinstance(task.failure, EngineUnavailable)
    finally:
        pool.shutdown()


def test_shutdown_fails_queued_clips_as_cancelled_and_refuses_new_ones() -> None:
    gate = threading.Event()
    pool = WorkerPool(["cpu"], lambda name, device: object())
    running = RecordingTask("A", "1", [], block=gate)
    queued = RecordingTask("A", "2", [])
    pool.submit(running)
    assert running.started.wait(5)
    pool.submit(queued)
    threading.Timer(0.1, gate.set).start()
    pool.shutdown(wait=True, timeout_s=5)
    assert isinstance(queued.failure, Cancelled)
    assert running.done.is_set() and running.failure is None
    with pytest.raises(RuntimeError, match="shutting down"):
        pool.submit(RecordingTask("B", "1", []))

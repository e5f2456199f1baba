"""Admission control and the registry of running jobs (for CancelJob and shutdown).

At most `max_jobs` jobs are admitted at once; their clips share the worker pool's queue. A job
beyond that is refused with RESOURCE_EXHAUSTED and a retry hint: the estimated seconds of work
already admitted, spread over the workers.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from plugin_server.pipeline.errors import InvalidRequest
from plugin_server.server.errors import ServerBusy, ShuttingDown

log = logging.getLogger(__name__)

_MIN_RETRY_S = 0.5
_MAX_RETRY_S = 300.0


@dataclass(frozen=True)
class JobHandle:
    """A running job; `cancel` is passed to its clips and set by CancelJob, the client going
    away, its deadline passing or shutdown."""

    job_id: str
    clip_count: int
    estimated_seconds: float
    cancel: threading.Event
    admitted_at: float = field(default_factory=time.monotonic)


class JobManager:
    def __init__(self, *, max_jobs: int, max_clips_per_job: int, workers: int) -> None:
        self.max_jobs = max_jobs
        self.max_clips_per_job = max_clips_per_job
        self._workers = workers
        self._jobs: dict[str, JobHandle] = {}
        self._planning = 0
        self._draining = False
        self._condition = threading.Condition()

    def check_open(self) -> None:
        """Refuse early, before any planning work, when no job could be admitted now."""
        with self._condition:
            self._refuse_if_full()

    def admit(
        self, clip_count: int, estimated_seconds: float, cancel: threading.Event
    ) -> JobHandle:
        """Admit a job whose clips will watch `cancel`; raises ServerBusy or ShuttingDown."""
        if clip_count > self.max_clips_per_job:
            raise InvalidRequest(
                f"the timeline has {clip_count} clips to generate; this server takes at most "
                f"{self.max_clips_per_job} per job; select tracks or split the timeline"
            )
        with self._condition:
            self._refuse_if_full()
            handle = JobHandle(uuid.uuid4().hex[:16], clip_count, estimated_seconds, cancel)
            self._jobs[handle.job_id] = handle
            return handle

    def planning(self) -> PlanningSlot:
        """Take one of `max_jobs` planning slots (EstimatePlan, and a job before admission),
        to be released by leaving the returned context; raises ServerBusy or ShuttingDown."""
        with self._condition:
            if self._draining:
                raise ShuttingDown("the server is shutting down; send the job to another instance")
            if self._planning >= self.max_jobs:
                retry_s = self._retry_after_s()
                raise ServerBusy(
                    f"the server is busy planning {self._planning} timelines (its limit); "
                    f"retry in about {retry_s:.1f} s",
                    retry_after_s=retry_s,
                )
            self._planning += 1
        return PlanningSlot(self)

    def _end_planning(self) -> None:
        with self._condition:
            self._planning -= 1

    def retry_after_s(self) -> float:
        """The hint sent with every busy refusal: admitted work spread over the workers."""
        with self._condition:
            return self._retry_after_s()

    def _retry_after_s(self) -> float:
        queued_s = sum(job.estimated_seconds for job in self._jobs.values())
        return min(_MAX_RETRY_S, max(_MIN_RETRY_S, queued_s / max(1, self._workers)))

    def release(self, handle: JobHandle) -> bool:
        """Forget a finished job; False when it was already released (release is idempotent)."""
        with self._condition:
            released = self._jobs.pop(handle.job_id, None) is not None
            self._condition.notify_all()
            return released

    def cancel(self, job_id: str) -> bool:
        with self._condition:
            handle = self._jobs.get(job_id)
        if handle is None:
            return False
        handle.cancel.set()
        return True

    def running(self) -> int:
        with self._condition:
            return len(self._jobs)

    def drain(self) -> None:
        """Stop admitting jobs; running ones go on."""
        with self._condition:
            self._draining = True

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no job runs; False when `timeout_s` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while self._jobs:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    def cancel_all(self) -> int:
        with self._condition:
            handles = list(self._jobs.values())
        for handle in handles:
            handle.cancel.set()
        return len(handles)

    def _refuse_if_full(self) -> None:
        if self._draining:
            raise ShuttingDown("the server is shutting down; send the job to another instance")
        if len(self._jobs) >= self.max_jobs:
            retry_s = self._retry_after_s()
            raise ServerBusy(
                f"the server is busy with {len(self._jobs)} jobs (its limit); "
                f"retry in about {retry_s:.1f} s",
                retry_after_s=retry_s,
            )


class PlanningSlot:
    """A taken planning slot; leaving the `with` block gives it back."""

    def __init__(self, manager: JobManager) -> None:
        self._manager = manager

    def __enter__(self) -> PlanningSlot:
        return self

    def __exit__(self, *_: object) -> None:
        self._manager._end_planning()

"""Admission control: a bounded number of jobs, a retry hint when full, draining on shutdown."""

from __future__ import annotations

import threading

import grpc
import pytest

from plugin_server.pipeline.errors import InvalidRequest
from plugin_server.server.errors import ServerBusy, ShuttingDown, status_for
from plugin_server.server.jobs import JobManager


def _manager() -> JobManager:
    return JobManager(max_jobs=2, max_clips_per_job=10, workers=2)


def test_jobs_beyond_the_limit_are_refused_with_a_retry_hint() -> None:
    jobs = _manager()
    jobs.admit(3, 10.0, threading.Event())
    jobs.admit(3, 30.0, threading.Event())
    with pytest.raises(ServerBusy) as refused:
        jobs.admit(1, 1.0, threading.Event())
    # 40 s of admitted work over 2 workers.
    assert refused.value.retry_after_s == pytest.approx(20.0)
    status = status_for(refused.value)
    assert status is not None
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status.trailing_metadata == (("retry-after-ms", "20000"),)


def test_a_released_job_frees_its_slot() -> None:
    jobs = _manager()
    first = jobs.admit(1, 1.0, threading.Event())
    jobs.admit(1, 1.0, threading.Event())
    assert jobs.release(first) is True
    assert jobs.release(first) is False
    jobs.admit(1, 1.0, threading.Event())
    assert jobs.running() == 2


def test_too_many_clips_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="at most 10 per job"):
        _manager().admit(11, 1.0, threading.Event())


def test_cancel_sets_the_jobs_event_and_unknown_ids_are_not_found() -> None:
    jobs = _manager()
    cancel = threading.Event()
    handle = jobs.admit(1, 1.0, cancel)
    assert jobs.cancel("no-such-job") is False
    assert jobs.cancel(handle.job_id) is True
    assert cancel.is_set()


def test_draining_refuses_new_jobs_as_unavailable_and_waits_for_running_ones() -> None:
    jobs = _manager()
    handle = jobs.admit(1, 1.0, threading.Event())
    jobs.drain()
    with pytest.raises(ShuttingDown) as refused:
        jobs.check_open()
    assert status_for(refused.value).code == grpc.StatusCode.UNAVAILABLE
    assert jobs.wait_idle(0.05) is False
    threading.Timer(0.05, jobs.release, args=(handle,)).start()
    assert jobs.wait_idle(5.0) is True

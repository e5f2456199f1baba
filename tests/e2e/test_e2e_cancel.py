"""Cancellation: by the client, by CancelJob, by a deadline; the worker is freed promptly."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest
from e2e_support import TIMELINES, many_clip_timeline, partial_files

from plugin_server.client import FoleyClient, FoleyClientError
from plugin_server.server.app import FoleyServer

pytestmark = pytest.mark.slow

CLIPS = 60
# 4 s clips: the whole job took 5.3 s on this 2-core machine, idle (3.0 s with 2 s clips), so a
# faster machine still cannot finish it before a cancel or the 1.5 s deadline lands.
CLIP_FRAMES = 96


def _long_job(media_root: Path) -> Path:
    path = media_root / "long_job.otio"
    path.write_bytes(
        many_clip_timeline("file:///any/where/long.mov", CLIPS, clip_frames=CLIP_FRAMES)
    )
    return path


def _wait_until(condition, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_client_cancel_stops_the_job_and_frees_the_worker(
    server: FoleyServer, client: FoleyClient, media_root: Path, tmp_path: Path
) -> None:
    cancel = threading.Event()
    finished: list[str] = []

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        if event.WhichOneof("event") == "clip_result":
            finished.append(event.clip_result.clip_id)
            cancel.set()

    started = time.monotonic()
    with pytest.raises(FoleyClientError) as stopped:
        client.generate(
            _long_job(media_root), tmp_path / "out.otio", on_event=on_event, cancel=cancel
        )
    assert stopped.value.code == grpc.StatusCode.CANCELLED
    assert len(finished) < CLIPS
    # The server lets go of the job and its worker at once, long before 60 clips could run.
    assert _wait_until(lambda: server.service.jobs.running() == 0, 5.0)
    assert _wait_until(lambda: server.service.pool.busy_workers() == 0, 5.0)
    assert server.service.pool.queue_depth() == 0
    assert time.monotonic() - started < 20
    assert partial_files(tmp_path) == []
    # The freed worker takes the next job straight away.
    started = time.monotonic()
    after = client.generate(TIMELINES / "simple_cut.otio", tmp_path / "after.otio")
    assert after.summary.clips_generated == 4
    assert time.monotonic() - started < 10


def test_cancel_job_from_another_client_ends_the_stream_with_cancelled_clips(
    server: FoleyServer, client: FoleyClient, media_root: Path, tmp_path: Path
) -> None:
    job_ids: list[str] = []

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        kind = event.WhichOneof("event")
        if kind == "accepted":
            job_ids.append(event.accepted.job_id)
        elif kind == "clip_result" and len(job_ids) == 1:
            with FoleyClient(server.address) as other:
                assert other.cancel(job_ids[0]) is True
            job_ids.append("cancelled")

    result = client.generate(_long_job(media_root), tmp_path / "out.otio", on_event=on_event)
    summary = result.summary
    assert summary.cancelled is True
    assert summary.clips_cancelled > 0
    assert summary.clips_generated + summary.clips_cancelled == CLIPS
    # The result timeline holds the clips that were finished.
    assert result.timeline_path is not None and len(result.audio_files) == summary.clips_generated
    assert client.cancel(job_ids[0]) is False  # finished jobs are forgotten


def test_expired_deadline_stops_the_job(
    server: FoleyServer, client: FoleyClient, media_root: Path, tmp_path: Path
) -> None:
    job = _long_job(media_root)
    client.plan(job)  # warm: the deadline then falls while clips are being generated
    accepted = threading.Event()

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        if event.WhichOneof("event") == "accepted":
            accepted.set()

    with pytest.raises(FoleyClientError) as stopped:
        client.generate(job, tmp_path / "out.otio", timeout_s=1.5, on_event=on_event)
    assert accepted.is_set()
    assert stopped.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert _wait_until(lambda: server.service.jobs.running() == 0, 5.0)
    assert _wait_until(lambda: server.service.pool.busy_workers() == 0, 5.0)
    assert partial_files(tmp_path) == []

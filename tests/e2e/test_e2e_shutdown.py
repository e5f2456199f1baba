"""Graceful shutdown of a real `foley-server serve` process on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from e2e_support import TIMELINES, many_clip_timeline, partial_files
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plugin_server.client import FoleyClient, FoleyClientError, GenerateOptions

pytestmark = pytest.mark.slow

CLIPS = 30  # finished within the grace period
# 8 s clips: the rest of the job must outlast the health check made right after SIGTERM (with
# 1 s clips a loaded machine could finish all 30 first, and the server was gone).
CLIP_FRAMES = 192
LONG_CLIPS = 200  # certainly not finished 0.2 s after SIGTERM


@pytest.fixture
def serve(tmp_path: Path, media_root: Path) -> Iterator:  # type: ignore[type-arg]
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]

    def start(grace_s: float) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
        command = [
            sys.executable, "-m", "plugin_server.cli", "serve",
            "--port", "0", "--device", "cpu", "--workers", "1",
            "--media-root", str(media_root),
            "--output-root", str(tmp_path / "output"),
            "--work-dir", str(tmp_path / "work"),
            "--shutdown-grace", str(grace_s),
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()  # "listening on HOST:PORT"
        assert line.startswith("listening on "), line
        return process, line.split()[-1]

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _job(media_root: Path, clips: int, clip_frames: int = 24) -> Path:
    path = media_root / "shutdown_job.otio"
    path.write_bytes(many_clip_timeline("file:///x/long.mov", clips, clip_frames=clip_frames))
    return path


def _sigterm_after_first_clip(process: subprocess.Popen, address: str, seen: dict, folder: Path):  # type: ignore[no-untyped-def, type-arg]
    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        if event.WhichOneof("event") == "clip_result" and "signalled" not in seen:
            process.send_signal(signal.SIGTERM)
            seen["signalled"] = True
            seen["health"] = _health(address)
            seen["new_job"] = _try_new_job(address, folder)

    return on_event


def _health(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        request = health_pb2.HealthCheckRequest(service="foley.v1.FoleyService")
        # The signal is handled asynchronously: poll until the server reacts.
        for _ in range(100):
            status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status
            if status != health_pb2.HealthCheckResponse.SERVING:
                return status
            threading.Event().wait(0.05)
        return status


def _try_new_job(address: str, folder: Path) -> grpc.StatusCode | None:
    with FoleyClient(address) as client:
        try:
            client.generate(TIMELINES / "simple_cut.otio", folder / "refused.otio")
        except FoleyClientError as error:
            return error.code
    return None


def test_sigterm_lets_the_job_in_flight_finish_and_refuses_new_ones(
    serve,
    media_root: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    process, address = serve(grace_s=60)
    seen: dict = {}
    with FoleyClient(address) as client:
        result = client.generate(
            _job(media_root, CLIPS, CLIP_FRAMES),
            tmp_path / "client" / "out.otio",
            GenerateOptions(server_output_dir="job"),
            on_event=_sigterm_after_first_clip(process, address, seen, tmp_path),
        )
    assert seen["health"] == health_pb2.HealthCheckResponse.NOT_SERVING
    assert seen["new_job"] == grpc.StatusCode.UNAVAILABLE
    assert result.summary.cancelled is False
    assert result.summary.clips_generated == CLIPS
    assert process.wait(30) == 0
    output = tmp_path / "output" / "job"
    assert len(list(output.glob("*.wav"))) == CLIPS
    assert (output / "shutdown_job_foley.otio").is_file()
    assert partial_files(tmp_path / "output") == []


def test_jobs_still_running_after_the_grace_period_are_cancelled_cleanly(
    serve,
    media_root: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    process, address = serve(grace_s=0.2)
    seen: dict = {}
    with FoleyClient(address) as client:
        result = client.generate(
            _job(media_root, LONG_CLIPS),
            tmp_path / "client" / "out.otio",
            GenerateOptions(server_output_dir="job"),
            on_event=_sigterm_after_first_clip(process, address, seen, tmp_path),
        )
    assert result.summary.cancelled is True
    assert result.summary.clips_cancelled > 0
    assert result.summary.clips_generated + result.summary.clips_cancelled == LONG_CLIPS
    assert process.wait(30) == 0
    assert partial_files(tmp_path / "output") == []
    written = list((tmp_path / "output" / "job").glob("*.wav"))
    assert len(written) == result.summary.clips_generated

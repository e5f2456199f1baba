"""One real local Ray cluster for the whole session (starting one takes seconds), plus small
shared inputs: two placeholder videos, a many-clip timeline and its audio from the local
executor, which every Ray run must reproduce bit for bit."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import ray_support
from ray_support import many_clip_timeline, run_timeline, write_video

from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.pipeline.local import LocalRun

os.environ.setdefault("OMP_NUM_THREADS", "1")

# Logical CPUs of the test cluster: room for 3 actors plus one more starting, on any machine.
CLUSTER_CPUS = 4
CLIPS = 12
CLIP_FRAMES = 12  # 0.5 s at 24 fps


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[ModuleType]:
    """A head node started by `ray start` in its own process, which this process joins.

    Not `ray.init()` in this process: Ray starts its raylet with a Python `preexec_fn`, which
    runs in the child of a fork, and by the time the Ray tests run this test process holds
    dozens of threads from earlier tests (gRPC servers, worker pools); a lock one of them held
    at the fork can hang the child before it execs. Two full-suite runs (never the Ray tests
    alone) failed with "the current node timed out during startup" and no raylet log at all,
    which fits that (the likely cause, not a proven one). `ray start` forks from a fresh,
    single-threaded process, as a production head node does.
    """
    ray = pytest.importorskip(
        "ray", reason="the ray executor needs the ray package: pip install 'foley-backend[ray]'"
    )
    from ray._private.services import get_node_ip_address

    # Test engines travel to the actors by value: the actors cannot import tests/.
    ray.cloudpickle.register_pickle_by_value(ray_support)
    # A throwaway cluster on this machine: no token to hand from `ray start` to the driver.
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray_command = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    started = subprocess.run(
        [
            ray_command, "start", "--head", f"--port={port}", f"--num-cpus={CLUSTER_CPUS}",
            f"--object-store-memory={100 << 20}", "--include-dashboard=false",
            "--disable-usage-stats", f"--ray-client-server-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    if started.returncode != 0:
        raise RuntimeError(f"ray start failed ({started.returncode}): {started.stderr[-2000:]}")
    try:
        ray.init(
            address=f"{get_node_ip_address()}:{port}",
            log_to_driver=False,
            configure_logging=False,
        )
        yield ray
    finally:
        ray.shutdown()
        subprocess.run([ray_command, "stop", "--force"], capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a.mov and b.mov (4 s each), and same-content copies under names the test engines read."""
    folder = tmp_path_factory.mktemp("media")
    for name in ("a", "b"):
        write_video(folder / f"{name}.mov", 4.0)
        for prefix in ("slow-0.4", "slow-30"):
            shutil.copyfile(folder / f"{name}.mov", folder / f"{prefix}-{name}.mov")
    shutil.copyfile(folder / "a.mov", folder / "poison.mov")
    shutil.copyfile(folder / "a.mov", folder / "broken.mov")
    return folder


def timeline_over(folder: Path, media_dir: Path, *names: str, clips: int = CLIPS) -> Path:
    """A many-clip timeline taking turns over the named media files."""
    return many_clip_timeline(
        folder / f"{'_'.join(names)}_{clips}.otio",
        [media_dir / name for name in names],
        clips,
        CLIP_FRAMES,
    )


@pytest.fixture(scope="session")
def many_clips(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return timeline_over(tmp_path_factory.mktemp("timelines"), media_dir, "a.mov", "b.mov")


@pytest.fixture(scope="session")
def local_digests(many_clips: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """File name -> audio digest of `many_clips` made by the local executor."""
    out = tmp_path_factory.mktemp("local")
    with LocalRun(
        engine_config=EngineConfig(device="cpu"),
        engine_factory=create_engine,
        device="cpu",
        workers=1,
    ) as run:
        job = run_timeline(run, many_clips, out)
    assert job.summary.clips_generated == CLIPS
    return ray_support.audio_digests(out / "audio")

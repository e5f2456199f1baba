"""One real local Ray cluster for the whole session (starting one takes seconds), plus small
shared inputs: two placeholder videos, a many-clip timeline and its audio from the local
executor, which every Ray run must reproduce bit for bit."""

from __future__ import annotations

import os
import shutil
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
    ray = pytest.importorskip(
        "ray", reason="the ray executor needs the ray package: pip install 'foley-backend[ray]'"
    )
    # Test engines travel to the actors by value: the actors cannot import tests/.
    ray.cloudpickle.register_pickle_by_value(ray_support)
    ray.init(
        address="local",  # never a cluster named by $RAY_ADDRESS
        num_cpus=CLUSTER_CPUS,
        object_store_memory=100 << 20,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


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

"""Faults on a real Ray cluster: an actor that dies mid-clip has its clip retried on another
actor (a bounded number of times), engine errors are reported without retries, progress comes
from the actors, and cancelling a job stops the work on them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from conftest import CLIPS, timeline_over
from ray_support import audio_digests, misbehaving_factory, run_timeline

from plugin_server.engines.registry import EngineConfig
from plugin_server.executors import ExecutorSettings, RaySettings
from plugin_server.pipeline.events import ClipProgressed, PipelineEvent
from plugin_server.pipeline.local import LocalRun
from plugin_server.pipeline.records import ProblemKind

pytestmark = [pytest.mark.ray, pytest.mark.slow]

RETRIES = 2


@pytest.fixture(scope="module")
def marker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def ray_run(ray_cluster: ModuleType, marker_dir: Path) -> Iterator[LocalRun]:
    with LocalRun(
        engine_config=EngineConfig(device="cpu"),
        engine_factory=misbehaving_factory(marker_dir),
        device="cpu",
        executor=ExecutorSettings("ray", RaySettings(actors=2, max_retries=RETRIES)),
    ) as run:
        yield run


def test_a_clip_whose_actor_dies_is_retried_on_another_actor(
    ray_run: LocalRun,
    many_clips: Path,
    marker_dir: Path,
    local_digests: dict[str, str],
    tmp_path: Path,
) -> None:
    (marker_dir / "crash-armed").touch()  # the first clip to start kills its actor

    job = run_timeline(ray_run, many_clips, tmp_path)

    assert (marker_dir / "crashed").is_file()  # an actor really died mid-clip
    assert job.summary.clips_generated == CLIPS
    assert job.summary.clips_failed == job.summary.clips_cancelled == 0
    retried = [o for o in job.outcomes() if any(n.startswith("retried") for n in o.report.notes)]
    assert len(retried) == 1
    (clip,) = retried
    assert job.stages(clip.clip_id).count(f"retry 1/{RETRIES}") == 1
    assert "doomed" in job.stages(clip.clip_id)  # it was mid-clip when its actor died
    assert any("ActorDiedError" in note for note in clip.report.notes)
    # Nothing lost and nothing different: every file, bit for bit the local executor's.
    assert audio_digests(tmp_path / "audio") == local_digests


def test_a_clip_that_keeps_killing_actors_fails_after_the_retries_and_the_rest_finish(
    ray_run: LocalRun, media_dir: Path, tmp_path: Path
) -> None:
    timeline = timeline_over(tmp_path, media_dir, "a.mov", "poison.mov", "b.mov", clips=3)

    job = run_timeline(ray_run, timeline, tmp_path)

    assert job.summary.clips_generated == 2
    assert job.summary.clips_failed == 1
    (problem,) = job.problems()
    assert problem.kind == ProblemKind.FAILED
    assert problem.name == "shot001"
    assert f"{RETRIES + 1} attempts lost their Ray actor" in problem.reason
    retries = [stage for stage in job.stages(problem.clip_id) if stage.startswith("retry")]
    assert retries == [f"retry {n}/{RETRIES}" for n in range(1, RETRIES + 1)]


def test_an_engine_error_fails_its_clip_without_retries(
    ray_run: LocalRun, media_dir: Path, tmp_path: Path
) -> None:
    timeline = timeline_over(tmp_path, media_dir, "broken.mov", "a.mov", clips=2)

    job = run_timeline(ray_run, timeline, tmp_path)

    assert (job.summary.clips_generated, job.summary.clips_failed) == (1, 1)
    (problem,) = job.problems()
    assert problem.kind == ProblemKind.FAILED
    assert "broken on purpose" in problem.reason
    assert not any(stage.startswith("retry") for stage in job.stages())


def test_progress_reported_by_actors_reaches_the_job(
    ray_run: LocalRun, media_dir: Path, tmp_path: Path
) -> None:
    timeline = timeline_over(tmp_path, media_dir, "slow-0.4-a.mov", "slow-0.4-b.mov", clips=2)

    job = run_timeline(ray_run, timeline, tmp_path)

    assert job.summary.clips_generated == 2
    for outcome in job.outcomes():
        stages = job.stages(outcome.clip_id)
        # "slow" only exists inside the actor's engine; "write" comes after it, here.
        assert "slow" in stages
        assert stages.index("slow") < stages.index("write")


def test_cancelling_a_job_stops_its_clips_on_the_actors(
    ray_run: LocalRun, media_dir: Path, marker_dir: Path, tmp_path: Path
) -> None:
    # Four 30-second clips on two actors; the job is cancelled once one of them runs.
    timeline = timeline_over(tmp_path, media_dir, "slow-30-a.mov", "slow-30-b.mov", clips=4)
    cancel = threading.Event()

    def cancel_once_running(event: PipelineEvent) -> None:
        if isinstance(event, ClipProgressed) and event.stage == "slow":
            cancel.set()

    started = time.monotonic()
    job = run_timeline(
        ray_run, timeline, tmp_path / "cancelled", on_event=cancel_once_running, cancel=cancel
    )
    elapsed = time.monotonic() - started

    assert job.summary.cancelled
    assert job.summary.clips_cancelled == 4
    assert elapsed < 15.0
    # The engines on the actors saw the cancel (they leave a marker) and stopped.
    running = {e.clip_id for e in job.events if isinstance(e, ClipProgressed) and e.stage == "slow"}
    stopped = {path.name.removeprefix("cancelled-") for path in marker_dir.glob("cancelled-*")}
    assert running and stopped >= running
    # The actors are free again: a plain job right after runs at once.
    quick = timeline_over(tmp_path, media_dir, "a.mov", clips=2)
    follow_up = run_timeline(ray_run, quick, tmp_path / "after")
    assert follow_up.summary.clips_generated == 2
    assert time.monotonic() - started < 25.0

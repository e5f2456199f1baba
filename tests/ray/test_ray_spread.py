"""A job's clips fan out over several Ray actors, which keep their engines across jobs, and the
audio is bit for bit what the local executor makes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from conftest import CLIP_FRAMES, CLIPS
from ray_support import audio_digests, counting_factory, run_timeline

from plugin_server.engines.registry import EngineConfig
from plugin_server.executors import ExecutorSettings, RaySettings
from plugin_server.pipeline.local import LocalRun

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ACTORS = 3


@pytest.fixture(scope="module")
def engine_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engines_made")


@pytest.fixture(scope="module")
def ray_run(ray_cluster: ModuleType, engine_log: Path) -> Iterator[LocalRun]:
    with LocalRun(
        engine_config=EngineConfig(device="cpu"),
        engine_factory=counting_factory(engine_log),
        device="cpu",
        executor=ExecutorSettings("ray", RaySettings(actors=ACTORS)),
    ) as run:
        yield run


def _actors_used(notes: list[tuple[str, ...]]) -> Counter[str]:
    return Counter(
        note.removeprefix("generated on Ray actor ")
        for clip_notes in notes
        for note in clip_notes
        if note.startswith("generated on Ray actor ")
    )


def test_a_many_clip_job_is_spread_over_several_actors(
    ray_run: LocalRun, many_clips: Path, tmp_path: Path
) -> None:
    job = run_timeline(ray_run, many_clips, tmp_path)

    assert job.summary.clips_generated == CLIPS
    assert job.summary.clips_failed == job.summary.clips_cancelled == 0
    outcomes = job.outcomes()
    assert len({outcome.clip_id for outcome in outcomes}) == CLIPS
    used = _actors_used([outcome.report.notes for outcome in outcomes])
    assert sum(used.values()) == CLIPS
    assert 1 < len(used) <= ACTORS, used
    samples = round(CLIP_FRAMES / 24 * 48_000)
    assert {outcome.audio.num_samples for outcome in outcomes} == {samples}
    assert all(outcome.path.is_file() for outcome in outcomes)
    assert job.summary.clips_total == CLIPS


def test_audio_is_identical_to_the_local_executors(
    ray_run: LocalRun, many_clips: Path, local_digests: dict[str, str], tmp_path: Path
) -> None:
    run_timeline(ray_run, many_clips, tmp_path)

    assert audio_digests(tmp_path / "audio") == local_digests


def test_actors_keep_their_engines_across_jobs(
    ray_run: LocalRun, many_clips: Path, engine_log: Path, tmp_path: Path
) -> None:
    for index in range(2):
        job = run_timeline(ray_run, many_clips, tmp_path / f"job{index}")
        assert job.summary.clips_generated == CLIPS

    # Every job so far in this module made 12 clips; engines were made once per actor process.
    made = [path.name.split("-")[:2] for path in engine_log.iterdir()]
    processes = Counter(pid for pid, _ in made)
    assert {engine for _, engine in made} == {"procedural"}
    assert 1 <= len(made) <= ACTORS
    assert set(processes.values()) == {1}

"""The library engine on Ray actors: each actor opens the index under the work dir, places
the chosen files on the picture's events exactly as the local executor does, and the report
and the result timeline credit every file used."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import opentimelineio as otio
import pytest
import soundfile
from ray_support import FPS, audio_digests, many_clip_timeline, run_timeline

from plugin_server.engines.library.synthetic import find_placement, make_library
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.executors import ExecutorSettings, RaySettings
from plugin_server.pipeline.local import LocalRun
from plugin_server.pipeline.request import GenerationRequest

pytestmark = pytest.mark.ray

CLIPS = 3
REQUEST = GenerationRequest(engine="library", prompt="door slam", seed=7, use_cache=False)


def test_library_engine_on_ray_actors_places_and_credits_the_chosen_files(
    ray_cluster: ModuleType, media_dir: Path, tmp_path: Path
) -> None:
    library = make_library(tmp_path / "media" / "SFX", seed=4)
    # Two seconds of the bouncing disc per clip: its hits at frames 12 and 36 are the events.
    timeline = many_clip_timeline(tmp_path / "edit.otio", [media_dir / "a.mov"], CLIPS, 2 * FPS)
    config = EngineConfig(
        device="cpu",
        options={
            "library_dirs": (library.root,),
            # Under the work dir, as `serve` puts it: one machine, so the actors reach it.
            "library_index": tmp_path / "work" / "library" / "index.sqlite",
        },
    )
    ray = ExecutorSettings("ray", RaySettings(actors=2))
    with LocalRun(engine_config=config, engine_factory=create_engine, executor=ray) as run:
        job = run_timeline(run, timeline, tmp_path / "ray", request=REQUEST)

    assert job.summary.clips_generated == CLIPS and not job.problems()
    outcomes = job.outcomes()
    assert all(
        any(n.startswith("generated on Ray actor") for n in o.report.notes) for o in outcomes
    )
    for outcome in outcomes:
        parameters = outcome.report.parameters
        assert parameters["fallback"] is None
        events = parameters["events"]
        assert len(events) == 2
        samples, rate = soundfile.read(outcome.path, dtype="float32")
        for event in events:
            path = Path(event["file"])
            found = find_placement(samples, rate, path, library.one_shots[path], event["time_s"])
            assert found.similarity > 0.9  # that file's waveform...
            assert abs(found.attack_time_s - event["time_s"]) < 0.002  # ...its attack on the event
        credited = sorted(
            (entry["path"], time)
            for entry in parameters["library_files"]
            for time in entry["times_s"]
        )
        assert credited == sorted((e["file"], e["time_s"]) for e in events)

    # The result timeline carries the same credits, clip by clip.
    result = otio.adapters.read_from_file(str(tmp_path / "ray" / "result.otio"))
    credits = [
        json.dumps(_plain(clip.metadata["foley"]["library_files"]), sort_keys=True)
        for track in result.audio_tracks()
        for clip in track.find_clips()
    ]
    assert sorted(credits) == sorted(
        json.dumps(o.report.parameters["library_files"], sort_keys=True) for o in outcomes
    )

    # The actors made exactly what the local executor makes.
    with LocalRun(engine_config=config, engine_factory=create_engine, workers=1) as run:
        run_timeline(run, timeline, tmp_path / "local", request=REQUEST)
    assert audio_digests(tmp_path / "ray" / "audio") == audio_digests(tmp_path / "local" / "audio")


def _plain(value: object) -> object:
    """OTIO metadata (AnyDictionary, AnyVector) as plain dicts and lists."""
    if hasattr(value, "items"):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return value
    return [_plain(item) for item in value]

"""The library engine through the real server and client: capabilities list the library, a
timeline's clip gets its one-shots on the picture's events, the result timeline credits every
file used, a re-send comes from the cache, and a prompt matching nothing falls back."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile
from e2e_support import many_clip_timeline

from plugin_server.client import FoleyClient, GenerateOptions
from plugin_server.demo.media import BouncingDisc, write_scene_video
from plugin_server.engines.library.synthetic import make_library
from plugin_server.server.app import FoleyServer

pytestmark = pytest.mark.slow

DISC = BouncingDisc(Fraction(24), 72, (20, 41, 60))


def test_library_engine_through_the_server(
    start_server: Callable[..., FoleyServer], media_root: Path, tmp_path: Path
) -> None:
    library = make_library(media_root / "SFX Library", seed=2)
    video = write_scene_video(media_root / "disc.mp4", DISC, width=128, height=72)
    server = start_server(
        engine="library",
        engine_options={
            "library_dirs": (library.root,),
            "library_index": tmp_path / "work0" / "library" / "index.sqlite",
        },
    )
    timeline = many_clip_timeline(video.path.as_uri(), clips=1, clip_frames=72)
    with FoleyClient(server.address) as client:
        client.wait_until_ready()
        capabilities = client.capabilities()
        (engine,) = [e for e in capabilities.engines if e.name == "library"]
        assert engine.available and capabilities.default_engine == "library"
        (listed,) = engine.libraries
        assert listed.path == str(library.root) and listed.files == 10
        assert listed.bytes == sum(p.stat().st_size for p in [*library.one_shots, *library.beds])
        assert listed.skipped_files == 0

        options = GenerateOptions(prompt="door slam", seed=4)
        first = client.generate(timeline, tmp_path / "first.otio", options)
        assert first.summary.clips_generated == 1
        (audio,) = first.audio_files.values()
        report = dict(audio.report.parameters)
        assert report["fallback"] is None and len(report["events"]) == 3
        samples, rate = soundfile.read(audio.path, dtype="float32")
        assert rate == 48_000 and len(samples) == 3 * 48_000
        for event in report["events"]:
            start = round(event["time_s"] * rate)
            assert np.abs(samples[start : start + 480]).max() > 0.1  # a hit on each event

        result = otio.adapters.read_from_file(str(tmp_path / "first.otio"))
        (foley_clip,) = [
            c for t in result.audio_tracks() for c in t.find_clips() if "foley" in c.metadata
        ]
        credits = foley_clip.metadata["foley"]["library_files"]
        placed = sorted(t for entry in credits for t in entry["times_s"])
        assert placed == [e["time_s"] for e in report["events"]]
        assert all("Slam" in entry["path"] for entry in credits)

        again = client.generate(timeline, tmp_path / "again.otio", options)
        assert again.summary.clips_cached == 1

        nothing = client.generate(
            timeline, tmp_path / "nothing.otio", GenerateOptions(prompt="a dog barking")
        )
        (fallback,) = nothing.audio_files.values()
        assert fallback.report.engine == "library"
        assert fallback.report.parameters["fallback"] == "procedural"
        assert any("no library file matches" in note for note in fallback.report.notes)


def test_generate_command_with_a_library_and_one_refused(media_root: Path, tmp_path: Path) -> None:
    library = make_library(media_root / "SFX", seed=3)
    video = write_scene_video(media_root / "disc.mp4", DISC, width=128, height=72)
    edit = media_root / "edit.otio"
    edit.write_bytes(many_clip_timeline(video.path.as_uri(), clips=2, clip_frames=70))
    command = [
        sys.executable, "-m", "plugin_server.cli", "generate", str(edit),
        "--media-root", str(media_root), "--engine", "library", "--quiet",
        "--cache-dir", str(tmp_path / "cache"), "--prompt", "footsteps on gravel, wind",
    ]  # fmt: skip
    done = subprocess.run(
        [*command, "-o", str(tmp_path / "out.otio"), "--library", str(library.root)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cache" / "library" / "index.sqlite").is_file()
    result = otio.adapters.read_from_file(str(tmp_path / "out.otio"))
    credits = [
        entry
        for track in result.audio_tracks()
        for clip in track.find_clips()
        for entry in clip.metadata["foley"]["library_files"]
    ]
    assert {entry["role"] for entry in credits} == {"event", "bed:wind"}
    refused = subprocess.run(
        [*command, "-o", str(tmp_path / "no.otio"), "--library", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "outside every --media-root" in refused.stderr
    assert not (tmp_path / "no.otio").exists()

"""The library engine on a generated library: each event holds its chosen file's waveform
with the file's own attack on the event, files vary, beds loop without clicks, the same seed
gives the same audio, and a prompt matching nothing falls back to the procedural engine."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from plugin_server.demo.media import (
    BouncingDisc,
    SceneFrameSource,
    WalkingFigure,
    output_frame_count,
)
from plugin_server.engines.base import Cancelled, ClipAudio, ClipRequest, EngineUnavailable
from plugin_server.engines.library.audio import read_mono
from plugin_server.engines.library.engine import LibraryEngine
from plugin_server.engines.library.placement import loop_with_crossfades
from plugin_server.engines.library.records import LibraryEngineInfo
from plugin_server.engines.library.synthetic import (
    SyntheticLibrary,
    find_placement,
    make_library,
)
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.media.frames import Frame, FrameSource, FrameSpec

RATE = 48_000
DISC = BouncingDisc(Fraction(24), 72, (20, 41, 60))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> SyntheticLibrary:
    return make_library(tmp_path_factory.mktemp("sfx") / "Studio SFX", seed=5)


def _engine(library: SyntheticLibrary, tmp_path: Path, **options: object) -> LibraryEngine:
    config = EngineConfig(
        options={
            "library_dirs": [library.root],
            "library_index": tmp_path / "index.sqlite",
            **options,
        }
    )
    engine = create_engine("library", config)
    assert isinstance(engine, LibraryEngine)
    return engine


def _generate(engine: LibraryEngine, prompt: str, scene=DISC, seconds=3.0, seed=1) -> ClipAudio:
    frames = SceneFrameSource(scene) if scene is not None else None
    return engine.generate(ClipRequest("shot1", frames, seconds, prompt=prompt, seed=seed))


def test_each_event_holds_its_files_waveform_with_the_attack_on_the_event(
    library: SyntheticLibrary, tmp_path: Path
) -> None:
    audio = _generate(_engine(library, tmp_path), "door slam")
    events = audio.report.parameters["events"]
    assert len(audio.samples) == 3 * RATE and audio.samples.dtype == np.float32
    # The picture's three impacts are the events (within one frame: analysis granularity).
    truth = [frame / 24 for frame in DISC.impact_frames]
    assert [e["time_s"] for e in events] == pytest.approx(truth, abs=1 / 24)
    for event in events:
        path = Path(event["file"])
        assert "Slam" in path.name
        # Searched +-100 ms around where the file must start (44.1, 48 or 96 kHz files).
        found = find_placement(audio.samples, RATE, path, library.one_shots[path], event["time_s"])
        assert found.similarity > 0.9  # it is that file's waveform, not just any sound
        assert abs(found.attack_time_s - event["time_s"]) < 0.002


def test_the_same_file_never_plays_twice_in_a_row(
    library: SyntheticLibrary, tmp_path: Path
) -> None:
    walk = WalkingFigure(Fraction(24), 120, (10, 22, 34, 46, 58, 70, 82, 94, 106))
    audio = _generate(_engine(library, tmp_path), "door slam", scene=walk, seconds=5.0)
    files = [e["file"] for e in audio.report.parameters["events"]]
    assert len(files) >= 8
    assert all(a != b for a, b in itertools.pairwise(files))
    assert len(set(files)) == 3  # the pool: the three slams
    gains = [e["gain_db"] for e in audio.report.parameters["events"]]
    assert len(set(gains)) == len(gains) and max(map(abs, gains)) <= 1.5


def test_a_single_matching_file_repeats(library: SyntheticLibrary, tmp_path: Path) -> None:
    audio = _generate(_engine(library, tmp_path), "bottle smash")
    files = {e["file"] for e in audio.report.parameters["events"]}
    assert len(files) == 1 and "Bottle Smash" in files.pop()


def test_same_seed_same_audio_other_seed_other_variation(
    library: SyntheticLibrary, tmp_path: Path
) -> None:
    engine = _engine(library, tmp_path)
    first = _generate(engine, "door slam in the rain", seed=11)
    again = _generate(_engine(library, tmp_path), "door slam in the rain", seed=11)
    assert np.array_equal(first.samples, again.samples)
    assert first.report.parameters == again.report.parameters
    other = _generate(engine, "door slam in the rain", seed=12)
    assert not np.array_equal(first.samples, other.samples)
    gains = [e["gain_db"] for e in first.report.parameters["events"]]
    assert gains != [e["gain_db"] for e in other.report.parameters["events"]]


def test_pitch_variation_is_off_by_default_and_seeded_when_on(
    library: SyntheticLibrary, tmp_path: Path
) -> None:
    plain = _generate(_engine(library, tmp_path), "door slam")
    assert {e["pitch_semitones"] for e in plain.report.parameters["events"]} == {0.0}
    varied = _generate(_engine(library, tmp_path, library_pitch_variation=2), "door slam")
    shifts = [e["pitch_semitones"] for e in varied.report.parameters["events"]]
    assert all(0 < abs(s) <= 2 for s in shifts)
    # Pitch draws come after the file and gain draws: the same files are chosen.
    assert [e["file"] for e in varied.report.parameters["events"]] == [
        e["file"] for e in plain.report.parameters["events"]
    ]


def test_a_bed_loops_without_clicks(library: SyntheticLibrary, tmp_path: Path) -> None:
    # A 2.5 s rain bed under 9 s without picture: at least three loop points.
    audio = _generate(_engine(library, tmp_path), "rain", scene=None, seconds=9.0)
    (used,) = audio.report.parameters["library_files"]
    assert used["role"] == "bed:rain" and "Rain" in used["path"]
    joins = used["loop_points_s"]
    assert len(joins) >= 3
    steps = np.abs(np.diff(audio.samples))
    typical = np.percentile(steps, 99.9)
    for join in joins:
        around = steps[round(join * RATE) - RATE // 4 : round(join * RATE) + RATE // 4]
        assert around.max() <= 1.5 * typical
    # The control: butting the same file end to start does click.
    bed = read_mono(Path(used["path"]), RATE, 120.0)
    butted = np.abs(np.diff(np.concatenate([bed, bed])))
    assert butted[len(bed) - 1] > 3 * np.percentile(butted, 99.9)


def test_equal_power_crossfades_keep_the_level_of_uncorrelated_material() -> None:
    noise = np.random.default_rng(3).standard_normal(RATE).astype(np.float32)
    looped, joins = loop_with_crossfades(noise, 5 * RATE, offset=1234, crossfade=RATE // 4)
    assert len(looped) == 5 * RATE and len(joins) >= 4
    for join in joins:
        fade = looped[join - RATE // 16 : join + RATE // 16]
        assert np.sqrt(np.mean(fade**2)) == pytest.approx(1.0, abs=0.15)
    assert np.array_equal(looped[: RATE - 1234 - RATE // 4], noise[1234 : RATE - RATE // 4])


class _StillPicture:
    """A shot where nothing moves: a mid-grey frame at every requested time."""

    record_duration_s = 3.0

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        (spec,) = specs
        for index in range(output_frame_count(self.record_duration_s, spec.fps)):
            pixels = np.full((spec.height, spec.width), 128, np.uint8)
            yield Frame(0, index, float(index / spec.fps), pixels)


def test_beds_follow_motion_and_room_tone_does_not(
    library: SyntheticLibrary, tmp_path: Path
) -> None:
    engine = _engine(library, tmp_path)

    def bed(prompt: str, frames: FrameSource) -> np.ndarray:
        request = ClipRequest("shot1", frames, 3.0, prompt=prompt, seed=1)
        return engine.generate(request).samples.astype(np.float64)

    # Same clip id and seed: the same bed file from the same offset, so the ratio of the two
    # outputs is the gain the motion put on the bed.
    wind_moving, wind_still = bed("wind", SceneFrameSource(DISC)), bed("wind", _StillPicture())
    gain = np.abs(wind_moving) / np.maximum(np.abs(wind_still), 1e-9)
    gain = gain[np.abs(wind_still) > 1e-3]
    assert np.percentile(gain, 99) > 1.4  # the disc's motion lifts the wind...
    assert np.percentile(gain, 1) == pytest.approx(1.0, abs=0.05)  # ...from its still level
    room_moving = bed("room tone", SceneFrameSource(DISC))
    assert np.array_equal(room_moving, bed("room tone", _StillPicture()))


def test_a_prompt_matching_nothing_falls_back_to_procedural(
    library: SyntheticLibrary, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        audio = _generate(_engine(library, tmp_path), "a dog barking")
    assert "clip 'shot1': no library file matches the prompt (words: dog, barking)" in caplog.text
    parameters = audio.report.parameters
    assert audio.report.engine == "library"
    assert parameters["fallback"] == "procedural"
    assert parameters["unmatched_words"] == ["dog", "barking"]
    assert parameters["library_files"] == []
    assert "procedural" in audio.report.model
    assert any("no library file matches" in note for note in audio.report.notes)
    assert len(audio.samples) == 3 * RATE and np.abs(audio.samples).max() > 0.01


def test_a_file_unreadable_at_render_time_is_replaced_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    library = make_library(tmp_path / "sfx", seed=6)
    engine = _engine(library, tmp_path)
    # Damaged after indexing (the index is updated once per process): found at render time.
    (heavy,) = [p for p in library.one_shots if "Slam Heavy" in p.name]
    heavy.write_bytes(b"RIFF" + bytes(40))
    with caplog.at_level(logging.WARNING):
        audio = _generate(engine, "door slam")
    parameters = audio.report.parameters
    assert parameters["unreadable_files"] == [str(heavy)]
    assert str(heavy) in parameters["one_shot_pool"]
    files = [e["file"] for e in parameters["events"]]
    assert len(files) == 3 and str(heavy) not in files
    assert {entry["path"] for entry in parameters["library_files"]} == set(files)
    assert any("could not be read and were replaced" in note for note in audio.report.notes)
    assert f"library file not used: {heavy}" in caplog.text


def test_report_lists_every_file_used_and_where(library: SyntheticLibrary, tmp_path: Path) -> None:
    audio = _generate(_engine(library, tmp_path), "boots on a wooden floor, rain")
    credits = audio.report.parameters["library_files"]
    roles = {entry["role"] for entry in credits}
    assert roles == {"bed:rain", "event"}
    placed = sorted(t for e in credits if e["role"] == "event" for t in e["times_s"])
    assert placed == [e["time_s"] for e in audio.report.parameters["events"]]
    assert all(Path(e["path"]).is_file() and e["library"] == str(library.root) for e in credits)
    assert audio.report.parameters["matched_words"] == ["boots", "wood", "floor", "rain"]


def test_info_lists_the_library_and_its_size(library: SyntheticLibrary, tmp_path: Path) -> None:
    info = _engine(library, tmp_path).info()
    assert isinstance(info, LibraryEngineInfo) and info.available
    (summary,) = info.libraries
    assert summary.path == library.root and summary.files == 10
    assert summary.bytes == sum(p.stat().st_size for p in [*library.one_shots, *library.beds])


def test_without_a_library_the_engine_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine("library", EngineConfig())
    info = engine.info()
    assert not info.available and "--library" in info.reason
    with pytest.raises(EngineUnavailable, match="--library"):
        engine.generate(ClipRequest("c", None, 1.0, prompt="door"))


def test_cancel_stops_the_clip(library: SyntheticLibrary, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        _engine(library, tmp_path).generate(
            ClipRequest("c", SceneFrameSource(DISC), 3.0, prompt="door"), cancel=cancel
        )


def test_other_engines_never_see_library_options(library: SyntheticLibrary) -> None:
    from plugin_server.engines.registry import _options_for

    config = EngineConfig(options={"library_dirs": [library.root], "procedural_analysis_fps": 60})
    assert _options_for("hunyuan", config).options == {"procedural_analysis_fps": 60}
    assert _options_for("library", config) is config

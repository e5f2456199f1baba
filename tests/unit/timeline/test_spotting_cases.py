"""Spotting maths on small timelines built with the OTIO API, one hard case each.

Numbers in the assertions are worked out by hand in the comments next to them.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import (
    NTSC_FILM,
    NTSC_VIDEO,
    clip,
    gap,
    make_placeholder_media,
    rt,
    stack,
    three_clip_timeline,
    timeline,
    tr,
    track,
)

from timeline.records import ClipStatus, MediaMap, SpottedClip
from timeline.spotting import clip_prompt, spot_clips


def spot(edit: otio.schema.Timeline, media: Path, **kwargs) -> list[SpottedClip]:
    make_placeholder_media(edit, media)
    return spot_clips(edit, MediaMap(search_roots=(media,)), **kwargs)


def by_name(clips: list[SpottedClip]) -> dict[str, SpottedClip]:
    return {found.name: found for found in clips}


def test_three_clips_with_a_gap_land_at_their_record_frames(tmp_path: Path):
    clips = spot(three_clip_timeline(), tmp_path)
    assert [(c.name, c.record_start_frame, c.record_duration_frames) for c in clips] == [
        ("A", 0, 10),
        ("B", 15, 12),  # after A (10) and the gap (5)
        ("C", 27, 8),
    ]
    assert [c.record_timecode for c in clips] == ["01:00:00:00", "01:00:00:15", "01:00:01:03"]
    assert all(c.status == ClipStatus.SPOTTED and c.reason == "" for c in clips)
    b = clips[1]
    assert b.media_start_s == pytest.approx(200 / 24)
    assert b.media_duration_s == pytest.approx(12 / 24)
    assert b.media_path == tmp_path / "B.mov"
    assert b.rate == Fraction(24)
    assert b.timeline_start_frame == 86400
    assert b.record_start_s_since_midnight == pytest.approx(3600 + 15 / 24)
    assert b.track_index == 1 and b.track_name == "Picture"


def test_nested_stack_with_speed_is_clamped_to_its_trim(tmp_path: Path):
    # V1: 5-frame gap, then a nested stack trimmed to [10, 30) of its own time, at 2x.
    # Inside: A plays media [100, 130) over nest time [0, 30); B media [200, 230) over [30, 60).
    # Record r in [5, 25) maps to nest time 10 + 2 (r - 5), i.e. [10, 50):
    #   A is visible for nest [10, 30) -> record [5, 15), media [110, 130), 20 frames at 2x;
    #   B for nest [30, 50) -> record [15, 25), media [200, 220).
    nest = stack(
        track(clip("A", 100, 30), clip("B", 200, 30), name="inner"),
        source_range=tr(10, 20),
        effects=[otio.schema.LinearTimeWarp(time_scalar=2.0)],
    )
    clips = by_name(spot(timeline(track(gap(5), nest, clip("C", 0, 4))), tmp_path))
    a, b, c = clips["A"], clips["B"], clips["C"]
    assert (a.record_start_frame, a.record_duration_frames) == (5, 10)
    assert a.media_start_s == pytest.approx(110 / 24)
    assert a.media_duration_s == pytest.approx(20 / 24)
    assert a.time_scalar == 2.0
    assert (b.record_start_frame, b.record_duration_frames) == (15, 10)
    assert b.media_start_s == pytest.approx(200 / 24)
    assert b.media_duration_s == pytest.approx(20 / 24)
    assert a.extra["nested_in"] == ["nest", "inner"]
    # C follows the nest, whose length on the record is its trimmed 20 frames.
    assert c.record_start_frame == 25
    assert a.otio_path == (0, 1, 0, 0)


def test_clip_outside_its_parents_trim_is_reported_hidden(tmp_path: Path):
    nest = stack(track(clip("A", 0, 10), clip("B", 0, 10)), source_range=tr(0, 10))
    clips = by_name(spot(timeline(track(nest)), tmp_path))
    assert clips["A"].status == ClipStatus.SPOTTED
    assert clips["B"].status == ClipStatus.SKIPPED
    assert "trim" in clips["B"].reason


def test_speeds_multiply_along_the_clip_and_its_parents(tmp_path: Path):
    inner = clip("A", 0, 10, effects=[otio.schema.LinearTimeWarp(time_scalar=1.5)])
    nest = stack(track(inner), effects=[otio.schema.LinearTimeWarp(time_scalar=2.0)])
    # The nest lasts 10 record frames; its time runs 2x, the clip's 1.5x on top: 3x.
    a = spot(timeline(track(nest)), tmp_path)[0]
    assert a.time_scalar == pytest.approx(3.0)
    assert a.record_duration_frames == 5  # the clip's 10 frames of nest time at 2x
    assert a.media_duration_s == pytest.approx(15 / 24)


def test_freeze_frame_holds_one_media_frame(tmp_path: Path):
    frozen = clip("F", 40, 12, effects=[otio.schema.FreezeFrame()])
    f = spot(timeline(track(frozen)), tmp_path)[0]
    assert f.time_scalar == 0 and f.freeze
    assert f.record_duration_frames == 12
    assert f.media_start_s == pytest.approx(40 / 24)
    assert f.media_duration_s == 0.0


def test_reverse_plays_the_same_window_backwards(tmp_path: Path):
    backwards = clip("R", 50, 10, effects=[otio.schema.LinearTimeWarp(time_scalar=-1.0)])
    r = spot(timeline(track(backwards)), tmp_path)[0]
    assert r.reverse and r.time_scalar == -1.0
    assert r.media_start_s == pytest.approx(50 / 24)
    assert r.media_duration_s == pytest.approx(10 / 24)


def test_reverse_inside_a_reversed_nest_plays_forward(tmp_path: Path):
    inner = clip("A", 0, 10, effects=[otio.schema.LinearTimeWarp(time_scalar=-1.0)])
    nest = stack(track(inner), effects=[otio.schema.LinearTimeWarp(time_scalar=-1.0)])
    a = spot(timeline(track(nest)), tmp_path)[0]
    assert a.time_scalar == 1.0
    assert a.media_start_s == pytest.approx(0.0)
    assert a.media_duration_s == pytest.approx(10 / 24)


def test_transition_widens_the_visible_range_by_its_handles(tmp_path: Path):
    dissolve = otio.schema.Transition(in_offset=rt(2), out_offset=rt(3))
    clips = spot(timeline(track(clip("A", 0, 10), dissolve, clip("B", 50, 10))), tmp_path)
    a, b = clips
    assert (a.record_start_frame, a.record_duration_frames) == (0, 10)
    assert (a.visible_start_frame, a.visible_duration_frames) == (0, 13)  # tail: out 3
    assert (b.record_start_frame, b.record_duration_frames) == (10, 10)
    assert (b.visible_start_frame, b.visible_duration_frames) == (8, 12)  # head: in 2


def test_disabled_clip_and_disabled_track_are_skipped(tmp_path: Path):
    edit = timeline(
        track(clip("A", 0, 10, enabled=False), clip("B", 0, 10)),
        track(clip("C", 0, 10), name="V2"),
    )
    edit.tracks[1].enabled = False
    clips = by_name(spot(edit, tmp_path))
    assert clips["A"].status == ClipStatus.SKIPPED and "disabled" in clips["A"].reason
    assert clips["B"].status == ClipStatus.SPOTTED
    assert clips["C"].reason == "track 'V2' is disabled"


def test_generators_and_missing_references_are_reported_not_spotted(tmp_path: Path):
    title = otio.schema.Clip(
        name="title",
        media_reference=otio.schema.GeneratorReference(generator_kind="SolidColor"),
        source_range=tr(0, 10),
    )
    offline = otio.schema.Clip(name="offline", source_range=tr(0, 10))
    clips = by_name(spot(timeline(track(title, offline, clip("A", 0, 5))), tmp_path))
    assert clips["title"].status == ClipStatus.SKIPPED
    assert "generator (SolidColor)" in clips["title"].reason
    assert "MissingReference" in clips["offline"].reason
    assert clips["offline"].media_path is None
    assert clips["A"].record_start_frame == 20


def test_image_sequence_is_spotted_with_its_frame_pattern(tmp_path: Path):
    frames = tmp_path / "shots" / "sh010"
    frames.mkdir(parents=True)
    for number in range(1001, 1049):
        (frames / f"sh010.{number:04d}.exr").write_bytes(b"")
    reference = otio.schema.ImageSequenceReference(
        target_url_base="file:///Volumes/Shots/sh010/",
        name_prefix="sh010.",
        name_suffix=".exr",
        start_frame=1001,
        frame_zero_padding=4,
        rate=24,
        available_range=tr(1001, 48),
    )
    sequence = otio.schema.Clip(name="sh010", media_reference=reference, source_range=tr(1005, 20))
    edit = timeline(track(sequence))
    [found] = spot_clips(edit, MediaMap(prefix_maps=(("/Volumes/Shots", str(tmp_path / "shots")),)))
    assert found.status == ClipStatus.SPOTTED
    assert found.media_path == frames / "sh010.%04d.exr"
    assert found.media_url == "file:///Volumes/Shots/sh010/sh010.%04d.exr"
    assert found.media_start_s == pytest.approx(4 / 24)  # frame 1005 of a sequence from 1001
    assert found.extra["image_sequence"]["start_frame"] == 1001


def test_23976_timeline_keeps_the_exact_rate(tmp_path: Path):
    edit = timeline(
        track(
            clip("A", 86400, 48, rate=NTSC_FILM, available=(86400, 1000)),
            clip("B", 0, 24, rate=23.976),
        ),
        global_start=rt(86400, NTSC_FILM),
    )
    a, b = spot(edit, tmp_path)
    assert a.rate == Fraction(24000, 1001)
    assert a.record_timecode == "01:00:00:00"  # 23.976 is counted non-drop
    assert a.media_timecode == "01:00:00:00" and a.media_start_s == 0.0
    assert a.media_duration_s == pytest.approx(48 * 1001 / 24000)
    # A clip written with the 3-decimal rate lands on the same frame grid.
    assert (b.record_start_frame, b.record_duration_frames) == (48, 24)
    assert b.record_timecode == "01:00:02:00"


def test_2997_drop_frame_timecode_skips_labels(tmp_path: Path):
    # 01:00:00;00 drop frame is frame 107892; 1800 frames later the clock shows 01:01:00;02.
    edit = timeline(
        track(gap(1800, NTSC_VIDEO), clip("A", 0, 30, rate=NTSC_VIDEO)),
        global_start=rt(107892, NTSC_VIDEO),
    )
    [a] = spot(edit, tmp_path)
    assert a.rate == Fraction(30000, 1001)
    assert a.record_start_frame == 1800
    assert a.record_timecode == "01:01:00;02"
    assert a.record_duration_s == pytest.approx(30 * 1001 / 30000)


def test_2997_non_drop_when_the_timeline_says_so(tmp_path: Path):
    edit = timeline(
        track(gap(1800, NTSC_VIDEO), clip("A", 0, 30, rate=NTSC_VIDEO)),
        global_start=rt(108000, NTSC_VIDEO),
    )
    edit.metadata["foley"] = {"drop_frame": False}
    [a] = spot(edit, tmp_path)
    assert a.record_timecode == "01:01:00:00"


def test_media_with_a_start_timecode_is_measured_from_its_first_frame(tmp_path: Path):
    # The file starts at 01:00:00:00 (available range); the clip's source in is 01:00:01:00.
    [a] = spot(timeline(track(clip("A", 86424, 48, available=(86400, 2000)))), tmp_path)
    assert a.media_start_s == pytest.approx(1.0)
    assert a.media_start_frame == 86424.0
    assert a.media_timecode == "01:00:01:00"
    assert a.extra["media_origin"] == "available_range"


def test_file_timecode_is_used_when_the_timeline_gives_none(tmp_path: Path):
    edit = timeline(track(clip("A", 86424, 48, available=None)))
    asked: list[Path] = []

    def file_timecode(path: Path) -> Fraction:
        asked.append(path)
        return Fraction(3600)

    [probed] = spot(edit, tmp_path, media_start_timecode=file_timecode)
    assert asked == [tmp_path / "A.mov"]
    assert probed.media_start_s == pytest.approx(1.0)
    assert probed.extra["media_origin"] == "file timecode"
    [assumed] = spot(edit, tmp_path)
    assert assumed.media_start_s == pytest.approx(3601.0)
    assert assumed.clip_id == probed.clip_id


def test_failing_timecode_probe_skips_only_that_clip(tmp_path: Path):
    edit = timeline(track(clip("A", 0, 10, available=None), clip("B", 0, 10)))

    def broken(path: Path) -> None:
        raise OSError(f"cannot open {path.name}")

    clips = by_name(spot(edit, tmp_path, media_start_timecode=broken))
    assert clips["A"].status == ClipStatus.SKIPPED
    assert "cannot open A.mov" in clips["A"].reason
    assert clips["B"].status == ClipStatus.SPOTTED


def test_mixed_rate_clip_lasts_its_real_time_on_the_record(tmp_path: Path):
    # 50 frames at 15 fps are 100 frames of a 30 fps timeline.
    edit = timeline(track(gap(10, 30), clip("A", 0, 50, rate=15), clip("B", 0, 5, rate=30)))
    a, b = spot(edit, tmp_path)
    assert (a.record_start_frame, a.record_duration_frames) == (10, 100)
    assert b.record_start_frame == 110


def test_prompt_comes_from_metadata_then_markers():
    with_metadata = clip("A", 0, 10, metadata={"foley": {"prompt": " boots on gravel "}})
    with_metadata.markers.append(otio.schema.Marker(name="ignored"))
    assert clip_prompt(with_metadata) == "boots on gravel"
    flat = clip("B", 0, 10, metadata={"foley.prompt": "door slam"})
    assert clip_prompt(flat) == "door slam"
    marked = clip("C", 0, 10)
    marked.markers.append(otio.schema.Marker(name="check colour"))
    marked.markers.append(otio.schema.Marker(name="", comment="Foley: glass breaking"))
    assert clip_prompt(marked) == "glass breaking"
    only = clip("D", 0, 10)
    only.markers.append(otio.schema.Marker(name="rain on a tin roof"))
    assert clip_prompt(only) == "rain on a tin roof"
    assert clip_prompt(clip("E", 0, 10)) == ""


def test_audio_tracks_are_not_spotted(tmp_path: Path):
    edit = timeline(
        track(clip("picture", 0, 10)),
        track(clip("dialogue", 0, 10), kind=otio.schema.TrackKind.Audio, name="A1"),
    )
    assert [c.name for c in spot(edit, tmp_path)] == ["picture"]


def test_clips_come_in_track_then_time_order(tmp_path: Path):
    edit = timeline(
        track(clip("V1b", 0, 5), clip("V1c", 0, 5)),
        track(gap(2), clip("V2a", 0, 5)),
    )
    order = [(c.track_index, c.name) for c in spot(edit, tmp_path)]
    assert order == [(1, "V1b"), (1, "V1c"), (2, "V2a")]

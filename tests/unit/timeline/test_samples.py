"""Every real NLE timeline reads, spots and round-trips; a few clips per file checked by hand.

The expected numbers below were worked out from the files themselves (record in/out, source
in/out, speeds), not from this package's output.
"""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import DATA, SAMPLES, make_placeholder_media, write_wav

from timeline.compare import track_layout, without_last_audio_tracks
from timeline.formats import read_timeline, result_format, write_timeline
from timeline.records import ClipStatus, GeneratedAudio, MediaMap, SpottedClip
from timeline.result import build_result
from timeline.spotting import spot_clips

# file -> (format, picture clips, clips that play media)
EXPECTED_COUNTS = {
    "2997fps-DFTC.aaf": ("aaf", 1, 1),
    "clip_example.otio": ("otio", 1, 0),
    "dissolve_test.edl": ("edl", 3, 0),
    "fcpx_clips.fcpxml": ("fcpxml", 4, 4),
    "hiero_xml_export.xml": ("fcp_xml", 2, 1),
    "linear_speed_effects.aaf": ("aaf", 20, 20),
    "multitrack.otio": ("otio", 5, 0),
    "one_clip.aaf": ("aaf", 1, 1),
    "premiere_example.edl": ("edl", 2, 0),
    "premiere_example.otio": ("otio", 7, 6),
    # Two more than the .otio export of the same edit: the clips inside the nested sequence
    # (clipitem-6 and -7 of sequence-2, at 636 and 736), which OTIO's FCP 7 reader dropped.
    "premiere_example.xml": ("fcp_xml", 9, 8),
    "simple.aaf": ("aaf", 5, 5),
    "simple_cut.otio": ("otio", 4, 4),
    "speed_effects_small.edl": ("edl", 5, 0),
    "transition.otio": ("otio", 4, 4),
    "transitions.aaf": ("aaf", 4, 4),
    "hard_cases.otio": ("otio", 8, 5),
    "two_projects.fcpxml": ("fcpxml", 2, 2),
}

# (file, clip index in spot order) -> expected fields
HAND_WORKED = {
    # 29.97 DF sequence starting at 05:00:00;00; 23.976 media of 2391 frames under 2989 frames.
    ("2997fps-DFTC.aaf", 0): dict(
        track_index=1,
        record_start_frame=0,
        record_duration_frames=2989,
        record_timecode="05:00:00;00",
        timeline_start_frame=539460,
        media_start_s=0.0,
        media_duration_s=2989 * 1001 / 30000,
    ),
    # Clip-001 ends at the Dissolve (in 2, out 1): visible one frame longer.
    ("clip_example.otio", 0): dict(
        record_start_frame=8, record_duration_frames=3, visible_duration_frames=4
    ),
    # A dissolves into B over 10 frames after the cut at 01:00:00:09.
    ("dissolve_test.edl", 0): dict(
        record_start_frame=0,
        record_duration_frames=9,
        record_timecode="01:00:00:00",
        visible_duration_frames=19,
        media_timecode="01:00:04:05",
    ),
    ("dissolve_test.edl", 1): dict(record_start_frame=9, record_timecode="01:00:00:09"),
    # Asset-clip at 40 s, starting 15700/3000 s into its media.
    ("fcpx_clips.fcpxml", 1): dict(
        name="IMG_0857",
        record_start_frame=1200,
        record_duration_frames=300,
        media_start_s=157 / 30,
    ),
    ("fcpx_clips.fcpxml", 3): dict(name="IMG_0268", track_index=2, record_start_frame=600),
    # Hiero: global start 01:00:00:00, media with its own timecode (available range start).
    ("hiero_xml_export.xml", 0): dict(
        record_start_frame=14,
        record_duration_frames=1055,
        record_timecode="01:00:00:14",
        media_start_s=0.0,
        media_duration_s=1055 / 24,
    ),
    # 2 record frames at half speed use 1 media frame; 1 frame at 2x uses 2.
    ("linear_speed_effects.aaf", 1): dict(
        record_start_frame=1, record_duration_frames=2, time_scalar=0.5, media_duration_s=1 / 24
    ),
    ("linear_speed_effects.aaf", 4): dict(
        record_start_frame=10, record_duration_frames=1, time_scalar=2.0, media_duration_s=2 / 24
    ),
    ("multitrack.otio", 1): dict(name="out-b (loop)-HD.mp4", record_start_frame=803),
    ("multitrack.otio", 4): dict(track_index=3, record_start_frame=1198),
    ("one_clip.aaf", 0): dict(
        record_timecode="01:00:00:00", media_timecode="01:00:04:05", media_start_s=0.0
    ),
    ("premiere_example.edl", 1): dict(
        record_start_frame=31, record_duration_frames=50, record_timecode="00:59:54:18"
    ),
    # A 15 fps clip of 50 frames in a 30 fps sequence lasts 100 sequence frames.
    ("premiere_example.otio", 0): dict(
        track_index=1, record_start_frame=536, record_duration_frames=100, media_duration_s=100 / 30
    ),
    ("premiere_example.xml", 0): dict(
        track_index=1, record_start_frame=536, record_duration_frames=100, media_duration_s=100 / 30
    ),
    # The title is a generator: reported, not spotted.
    ("premiere_example.xml", 6): dict(track_index=3, name="test_title", status=ClipStatus.SKIPPED),
    # Inside the nested sequence at 636: its second clip item starts at 100 of it, 220 long.
    ("premiere_example.xml", 5): dict(
        track_index=2,
        name="sc01_sh030_anim.mov",
        record_start_frame=736,
        record_duration_frames=220,
    ),
    # Source in 133 of media starting at 99; a 13-frame dissolve tail after it.
    ("premiere_example.xml", 7): dict(
        track_index=4,
        record_start_frame=956,
        record_duration_frames=208,
        visible_duration_frames=221,
        media_start_s=(133 - 99) / 30,
    ),
    ("simple.aaf", 3): dict(
        name="KOLL-HD.mp4", record_start_frame=1922, record_duration_frames=640
    ),
    ("simple_cut.otio", 3): dict(
        record_start_frame=13, media_start_s=0.0, media_timecode="00:00:04:04"
    ),
    ("speed_effects_small.edl", 1): dict(
        record_start_frame=12240,
        record_duration_frames=17,
        record_timecode="01:08:30:00",
        time_scalar=0.0,
        media_duration_s=0.0,
    ),
    ("speed_effects_small.edl", 4): dict(
        record_start_frame=16600, record_duration_frames=36, record_timecode="01:11:31:16"
    ),
    ("transition.otio", 2): dict(
        record_start_frame=9, visible_start_frame=7, visible_duration_frames=6
    ),
    # The nest [10, 30) at 2x after a 5-frame gap: A shows media [110, 130) over record [5, 15).
    ("hard_cases.otio", 0): dict(
        name="A",
        record_start_frame=5,
        record_duration_frames=10,
        record_timecode="01:00:00:05",
        time_scalar=2.0,
        media_start_s=110 / 24,
        media_duration_s=20 / 24,
    ),
    ("hard_cases.otio", 4): dict(
        name="after dissolve", record_start_frame=47, visible_start_frame=45, prompt="door slam"
    ),
    # The FCPXML writer that made this file wrote no tcStart, so the projects start at zero.
    ("two_projects.fcpxml", 1): dict(
        name="B", record_start_frame=10, record_timecode="00:00:00:10"
    ),
    # t-hawk: a 48-frame dissolve before it, a 12-frame one after.
    ("transitions.aaf", 1): dict(
        record_start_frame=117,
        record_duration_frames=77,
        visible_start_frame=69,
        visible_duration_frames=137,
        media_start_s=(86523 - 86400) / 24,
    ),
}


def test_every_sample_has_expectations():
    assert set(SAMPLES) == set(EXPECTED_COUNTS)


def _spot(name: str, media: Path) -> tuple[object, list[SpottedClip]]:
    loaded = read_timeline(DATA / name)
    make_placeholder_media(loaded.timeline, media)
    return loaded, spot_clips(loaded.timeline, MediaMap(search_roots=(media,)))


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_reads_from_path_and_bytes_as_the_same_format(name: str):
    expected_format = EXPECTED_COUNTS[name][0]
    from_path = read_timeline(DATA / name)
    from_bytes = read_timeline((DATA / name).read_bytes(), source_name=name)
    assert from_path.format == from_bytes.format == expected_format
    assert from_path.source_name == str(DATA / name)
    assert from_bytes.source_name == name
    assert track_layout(from_path.timeline) == track_layout(from_bytes.timeline)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_spots_the_expected_clips(name: str, tmp_path: Path):
    _, picture_clips, playable = EXPECTED_COUNTS[name]
    _, spotted = _spot(name, tmp_path / "media")
    assert len(spotted) == picture_clips
    assert sum(clip.status == ClipStatus.SPOTTED for clip in spotted) == playable
    order = [(clip.track_index, clip.record_start_frame) for clip in spotted]
    assert order == sorted(order)


@pytest.mark.parametrize(("name", "index"), sorted(HAND_WORKED))
def test_sample_clip_matches_hand_worked_values(name: str, index: int, tmp_path: Path):
    _, spotted = _spot(name, tmp_path / "media")
    clip = spotted[index]
    for field, expected in HAND_WORKED[(name, index)].items():
        actual = getattr(clip, field)
        if isinstance(expected, float):
            assert actual == pytest.approx(expected, abs=1e-6), field
        else:
            assert actual == expected, field


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_round_trips_with_foley_under_its_pictures(name: str, tmp_path: Path):
    loaded, spotted = _spot(name, tmp_path / "media")
    generated = [
        GeneratedAudio(
            clip.clip_id,
            write_wav(tmp_path / f"{clip.clip_id}.wav"),
            {"prompt": "footsteps", "engine": "procedural", "preset": "default", "seed": 7},
        )
        for clip in spotted
        if clip.status == ClipStatus.SPOTTED
    ]
    target, notes = result_format(loaded.format)
    if loaded.format == "edl":
        assert target == "otio" and "EDL cannot carry" in notes[0]
    result = build_result(loaded.timeline, spotted, generated, target_format=target)
    added = len(result.tracks) - len(loaded.timeline.tracks)
    assert added == len({clip.track_index for clip in spotted if clip.status == "spotted"})

    written = write_timeline(result, target, tmp_path / f"result.{target}")
    reference = write_timeline(loaded.timeline, target, tmp_path / f"input.{target}")
    back = read_timeline(written).timeline
    layout = track_layout(back)
    assert without_last_audio_tracks(layout, added) == track_layout(
        read_timeline(reference).timeline
    )

    # Every Foley clip sits exactly under its picture, at the video rate.
    placed = sorted(
        (round(found.range_in_parent().start_time.value), round(found.duration().value))
        for audio_track in back.audio_tracks()[len(back.audio_tracks()) - added :]
        for found in audio_track.find_clips()
    )
    expected = sorted(
        (clip.record_start_frame, clip.record_duration_frames)
        for clip in spotted
        if clip.status == ClipStatus.SPOTTED
    )
    assert placed == expected
    rates = {
        found.duration().rate
        for audio_track in back.audio_tracks()[len(back.audio_tracks()) - added :]
        for found in audio_track.find_clips()
    }
    assert all(abs(rate - float(spotted[0].rate)) < 1e-6 for rate in rates)


def test_fcpxml_without_a_project_reads_its_compound_clip(tmp_path: Path):
    loaded = read_timeline(DATA / "fcpx_clips.fcpxml")
    assert loaded.timeline.name == "compound_clip_1"
    assert any("compound clip" in note for note in loaded.notes)


def test_edl_record_start_becomes_the_global_start():
    loaded = read_timeline(DATA / "speed_effects_small.edl")
    assert loaded.timeline.global_start_time.to_frames() == 86400
    assert any("01:00:00:00" in note for note in loaded.notes)
    assert all(track.source_range is None for track in loaded.timeline.tracks)


def test_media_found_by_search_root_is_the_placeholder(tmp_path: Path):
    _, spotted = _spot("simple.aaf", tmp_path / "media")
    assert spotted[0].media_path == tmp_path / "media" / "tech.fux (loop)-HD.mp4"
    assert isinstance(read_timeline(DATA / "simple.aaf").timeline, otio.schema.Timeline)

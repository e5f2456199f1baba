"""The result timeline: Foley tracks exactly under their pictures, everything else untouched."""

from __future__ import annotations

import zipfile
from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import (
    clip,
    gap,
    make_placeholder_media,
    rt,
    stack,
    three_clip_timeline,
    timeline,
    tr,
    track,
    write_wav,
)

from timeline.compare import track_layout
from timeline.errors import ResultError, UnsupportedFormat, WriteError
from timeline.formats import read_timeline, timeline_to_bytes, write_timeline
from timeline.records import ClipStatus, GeneratedAudio, MediaMap, SpottedClip
from timeline.result import avid_mob_id, build_result, is_foley_track
from timeline.spotting import spot_clips

METADATA = {
    "prompt": "boots on gravel",
    "engine": "procedural",
    "preset": "default",
    "seed": 42,
    "content_hash": "c0ffee",
}


def spot_and_generate(
    edit: otio.schema.Timeline, folder: Path
) -> tuple[list[SpottedClip], list[GeneratedAudio]]:
    media = make_placeholder_media(edit, folder / "media")
    spotted = spot_clips(edit, MediaMap(search_roots=(media,)))
    generated = [
        GeneratedAudio(found.clip_id, write_wav(folder / f"{found.name}.wav"), dict(METADATA))
        for found in spotted
        if found.status == ClipStatus.SPOTTED
    ]
    return spotted, generated


def placements(foley: otio.schema.Track) -> list[tuple[str, int, int]]:
    ranges = foley.range_of_all_children()
    return [
        (item.name, ranges[item].start_time.to_frames(), ranges[item].duration.to_frames())
        for item in foley
        if isinstance(item, otio.schema.Clip)
    ]


def test_one_foley_track_per_video_track_with_clips_under_their_pictures(tmp_path: Path):
    edit = three_clip_timeline()
    edit.tracks.append(track(gap(3), clip("D", 0, 6), name="V2"))
    spotted, generated = spot_and_generate(edit, tmp_path)
    result = build_result(edit, spotted, generated)
    foley = [t for t in result.tracks if is_foley_track(t)]
    assert [t.name for t in foley] == ["Foley V1", "Foley V2"]
    assert all(t.kind == otio.schema.TrackKind.Audio for t in foley)
    assert placements(foley[0]) == [("Foley A", 0, 10), ("Foley B", 15, 12), ("Foley C", 27, 8)]
    assert placements(foley[1]) == [("Foley D", 3, 6)]
    assert foley[0].metadata["foley"]["source_track"] == "V1"


def test_foley_clips_reference_their_audio_at_the_video_rate(tmp_path: Path):
    spotted, generated = spot_and_generate(three_clip_timeline(), tmp_path)
    result = build_result(three_clip_timeline(), spotted, generated)
    first = next(t for t in result.tracks if is_foley_track(t)).find_clips()[0]
    assert first.media_reference.target_url == (tmp_path / "A.wav").as_uri()
    assert first.source_range == tr(0, 10)
    assert first.media_reference.available_range == tr(0, 10)
    details = first.metadata["foley"]
    assert {key: details[key] for key in METADATA} == METADATA
    assert details["clip_id"] == spotted[0].clip_id
    assert first.name == "Foley A"


def test_handles_make_the_audio_longer_but_keep_the_clip_in_place(tmp_path: Path):
    spotted, generated = spot_and_generate(three_clip_timeline(), tmp_path)
    result = build_result(three_clip_timeline(), spotted, generated, handles_frames=6)
    foley = next(t for t in result.tracks if is_foley_track(t))
    assert placements(foley)[1] == ("Foley B", 15, 12)
    b = foley.find_clips()[1]
    assert b.source_range == tr(6, 12)
    assert b.media_reference.available_range == tr(0, 24)  # 12 + 6 each side


def test_the_input_is_untouched_and_the_result_minus_foley_equals_it(tmp_path: Path):
    edit = three_clip_timeline()
    before = otio.adapters.write_to_string(edit)
    spotted, generated = spot_and_generate(edit, tmp_path)
    result = build_result(edit, spotted, generated)
    assert otio.adapters.write_to_string(edit) == before
    kept = [t for t in result.tracks if not is_foley_track(t)]
    assert [otio.adapters.write_to_string(t) for t in kept] == [
        otio.adapters.write_to_string(t) for t in edit.tracks
    ]


def test_clips_without_audio_leave_a_gap(tmp_path: Path):
    spotted, generated = spot_and_generate(three_clip_timeline(), tmp_path)
    result = build_result(three_clip_timeline(), spotted, [generated[0], generated[2]])
    foley = next(t for t in result.tracks if is_foley_track(t))
    assert placements(foley) == [("Foley A", 0, 10), ("Foley C", 27, 8)]


def test_video_tracks_without_foley_get_no_track(tmp_path: Path):
    edit = three_clip_timeline()
    edit.tracks.append(track(clip("D", 0, 6), name="V2"))
    spotted, generated = spot_and_generate(edit, tmp_path)
    only_v2 = [g for g, s in zip(generated, spotted, strict=True) if s.track_index == 2]
    result = build_result(edit, spotted, only_v2)
    assert [t.name for t in result.tracks if is_foley_track(t)] == ["Foley V2"]


def test_overlapping_clips_of_one_track_go_to_extra_lanes(tmp_path: Path):
    # A nested sequence with two video layers puts two clips of V1 over each other.
    nest = stack(track(clip("low", 0, 10)), track(gap(4), clip("high", 0, 4)))
    edit = timeline(track(nest))
    spotted, generated = spot_and_generate(edit, tmp_path)
    result = build_result(edit, spotted, generated)
    foley = [t for t in result.tracks if is_foley_track(t)]
    assert [t.name for t in foley] == ["Foley V1", "Foley V1 (2)"]
    assert placements(foley[0]) == [("Foley low", 0, 10)]
    assert placements(foley[1]) == [("Foley high", 4, 4)]


def test_audio_for_an_unknown_or_skipped_clip_is_refused(tmp_path: Path):
    edit = timeline(track(clip("A", 0, 10), clip("off", 0, 10, enabled=False)))
    spotted, generated = spot_and_generate(edit, tmp_path)
    with pytest.raises(ResultError, match="does not have"):
        build_result(edit, spotted, [GeneratedAudio("clip-nope", tmp_path / "x.wav", {})])
    skipped = next(s for s in spotted if s.status == ClipStatus.SKIPPED)
    with pytest.raises(ResultError, match="skipped clip"):
        build_result(edit, spotted, [GeneratedAudio(skipped.clip_id, tmp_path / "x.wav", {})])
    with pytest.raises(ResultError, match="two generated"):
        build_result(edit, spotted, generated * 2)
    with pytest.raises(ResultError, match="handles"):
        build_result(edit, spotted, generated, handles_frames=-1)


def test_fcp_xml_result_carries_the_prompt_in_clip_comments(tmp_path: Path):
    spotted, generated = spot_and_generate(three_clip_timeline(), tmp_path)
    result = build_result(three_clip_timeline(), spotted, generated, target_format="fcp_xml")
    text = timeline_to_bytes(result, "fcp_xml").decode()
    assert "<mastercomment1>Foley prompt: boots on gravel</mastercomment1>" in text
    assert f"file://localhost{tmp_path}/A.wav" in text
    back = read_timeline(text.encode()).timeline
    foley = back.audio_tracks()[-1]
    assert placements(foley)[1][1:] == (15, 12)


def test_aaf_result_gives_each_audio_a_stable_mob_id_and_comments(tmp_path: Path):
    spotted, generated = spot_and_generate(three_clip_timeline(), tmp_path)
    result = build_result(three_clip_timeline(), spotted, generated, target_format="aaf")
    back = read_timeline(timeline_to_bytes(result, "aaf")).timeline
    foley_clips = back.audio_tracks()[-1].find_clips()
    expected = avid_mob_id(spotted[0].clip_id, "c0ffee")
    assert foley_clips[0].metadata["AAF"]["MobID"] == expected
    assert foley_clips[0].metadata["AAF"]["UserComments"]["Foley prompt"] == "boots on gravel"
    assert avid_mob_id(spotted[0].clip_id, "c0ffee") == expected


def test_otioz_bundles_the_foley_audio_and_keeps_other_references(tmp_path: Path):
    spotted, generated = spot_and_generate(three_clip_timeline(), tmp_path)
    result = build_result(three_clip_timeline(), spotted, generated)
    written = write_timeline(result, "otioz", tmp_path / "result.otioz")
    with zipfile.ZipFile(written) as archive:
        names = set(archive.namelist())
    assert {"content.otio", "version.txt", "media/A.wav", "media/B.wav", "media/C.wav"} <= names
    back = otio.adapters.read_from_file(str(written))
    urls = [c.media_reference.target_url for c in back.find_clips()]
    assert "media/A.wav" in urls
    assert "file:///media/A.mov" in urls  # the picture stays as the editor wrote it


def test_otiod_is_a_directory_bundle(tmp_path: Path):
    spotted, generated = spot_and_generate(three_clip_timeline(), tmp_path)
    result = build_result(three_clip_timeline(), spotted, generated)
    written = write_timeline(result, "otiod", tmp_path / "result.otiod")
    assert (written / "media" / "B.wav").is_file()
    loaded = read_timeline(written)
    assert loaded.format == "otiod"
    assert track_layout(loaded.timeline)[0] == track_layout(result)[0]
    with pytest.raises(UnsupportedFormat, match="directory"):
        timeline_to_bytes(result, "otiod")


def test_edl_cannot_be_written(tmp_path: Path):
    with pytest.raises(UnsupportedFormat, match="EDL cannot carry"):
        write_timeline(three_clip_timeline(), "edl", tmp_path / "x.edl")
    assert not (tmp_path / "x.edl").exists()


def test_failed_write_leaves_no_file(tmp_path: Path):
    # The AAF writer needs Avid transition metadata this OTIO-made dissolve lacks.
    edit = timeline(
        track(clip("A", 0, 10), otio.schema.Transition(in_offset=rt(2), out_offset=rt(2)),
              clip("B", 50, 10))
    )  # fmt: skip
    target = tmp_path / "out.aaf"
    with pytest.raises(WriteError, match="aaf writer failed") as caught:
        write_timeline(edit, "aaf", target)
    assert caught.value.file == str(target)
    assert list(tmp_path.iterdir()) == []


def test_write_into_a_missing_folder_is_a_typed_error(tmp_path: Path):
    with pytest.raises(WriteError, match="does not exist"):
        write_timeline(three_clip_timeline(), "otio", tmp_path / "no" / "x.otio")


def test_writing_replaces_an_existing_file_whole(tmp_path: Path):
    target = tmp_path / "edit.otio"
    target.write_text("old")
    write_timeline(three_clip_timeline(), "otio", target)
    assert read_timeline(target).timeline.name == "edit"
    assert [p.name for p in tmp_path.iterdir()] == ["edit.otio"]


def test_fcp_writers_get_a_global_start_when_the_timeline_has_none(tmp_path: Path):
    edit = timeline(track(clip("A", 0, 10)))
    for format in ("fcp_xml", "fcpxml"):
        back = read_timeline(timeline_to_bytes(edit, format)).timeline
        start = back.global_start_time
        assert start is None or start.to_frames() == 0
        assert [c.duration().to_frames() for c in back.video_tracks()[0].find_clips()] == [10]
    assert edit.global_start_time is None


def test_fcpxml_result_names_the_real_audio_files(tmp_path: Path):
    folder = tmp_path / "R&D <mix>"
    folder.mkdir()
    spotted, generated = spot_and_generate(three_clip_timeline(), folder)
    result = build_result(three_clip_timeline(), spotted, generated, target_format="fcpxml")
    text = timeline_to_bytes(result, "fcpxml").decode()
    assert "foley-url-token" not in text
    back = read_timeline(text.encode()).timeline
    urls = {c.media_reference.target_url for c in back.find_clips()}
    assert (folder / "A.wav").as_uri() in urls
    assert "file:///media/B.mov" in urls


def test_without_a_copy_the_tracks_go_on_the_input(tmp_path: Path):
    edit = three_clip_timeline()
    spotted, generated = spot_and_generate(edit, tmp_path)
    result = build_result(edit, spotted, generated, copy_input=False)
    assert result is edit
    assert [t.name for t in edit.tracks if is_foley_track(t)] == ["Foley V1"]

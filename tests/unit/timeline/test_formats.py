"""Reading: content sniffing, explicit formats, choosing one of several timelines, bad files."""

from __future__ import annotations

import io
import zipfile
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import DATA, clip, three_clip_timeline, timeline, track

from timeline.errors import (
    EmptyTimeline,
    MalformedTimeline,
    TimelineError,
    TimelineNotFound,
    UnknownFormat,
    UnsupportedFormat,
)
from timeline.formats import (
    normalize_format,
    read_timeline,
    readable_formats,
    result_format,
    timeline_to_bytes,
    writable_formats,
)
from timeline.sniffing import sniff_format
from timeline.spotting import spot_clips


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("premiere_example.xml", "fcp_xml"),
        ("fcpx_clips.fcpxml", "fcpxml"),
        ("simple.aaf", "aaf"),
        ("speed_effects_small.edl", "edl"),
        ("multitrack.otio", "otio"),
    ],
)
def test_format_comes_from_the_content_not_the_name(name: str, expected: str, tmp_path: Path):
    disguised = tmp_path / "timeline.bin"
    disguised.write_bytes((DATA / name).read_bytes())
    assert read_timeline(disguised).format == expected
    misnamed = tmp_path / "timeline.otio"
    misnamed.write_bytes((DATA / name).read_bytes())
    assert read_timeline(misnamed).format == expected


def test_otioz_from_bytes_is_sniffed_and_read(tmp_path: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("content.otio", otio.adapters.write_to_string(three_clip_timeline()))
    loaded = read_timeline(buffer.getvalue())
    assert loaded.format == "otioz"
    assert len(loaded.timeline.find_clips()) == 3


def test_explicit_format_wins(tmp_path: Path):
    with pytest.raises(MalformedTimeline, match="not a valid fcp_xml file"):
        read_timeline(DATA / "multitrack.otio", format="fcp_xml")
    assert read_timeline(DATA / "multitrack.otio", format="otio_json").format == "otio"


def test_suffix_is_the_fallback_when_content_says_nothing(tmp_path: Path):
    broken = tmp_path / "cut.fcpxml"
    broken.write_text("<notfcp/>")
    with pytest.raises(MalformedTimeline) as caught:
        read_timeline(broken)
    assert caught.value.file == str(broken)


def test_a_file_with_several_timelines_gives_the_first_and_names_the_others():
    loaded = read_timeline(DATA / "two_projects.fcpxml")
    assert loaded.timeline.name == "first cut"
    assert loaded.available_names == ("first cut", "second cut")
    assert any("'second cut'" in note for note in loaded.notes)


def test_a_timeline_is_chosen_by_name():
    loaded = read_timeline(DATA / "two_projects.fcpxml", timeline_name="second cut")
    assert loaded.timeline.name == "second cut"
    assert loaded.timeline.video_tracks()[0].find_clips()[0].duration().to_frames() == 14


def test_an_unknown_timeline_name_lists_the_ones_there():
    with pytest.raises(TimelineNotFound, match="'first cut', 'second cut'"):
        read_timeline(DATA / "two_projects.fcpxml", timeline_name="final")


def test_an_otio_collection_of_timelines_is_a_choice_too():
    collection = otio.schema.SerializableCollection(name="bin")
    collection.append(timeline(track(clip("A", 0, 10)), name="one"))
    collection.append(timeline(track(clip("B", 0, 10)), name="two"))
    data = otio.adapters.write_to_string(collection).encode()
    assert read_timeline(data, timeline_name="two").timeline.find_clips()[0].name == "B"


def test_a_string_is_a_path():
    assert (
        read_timeline(str(DATA / "simple_cut.otio")).timeline.name == "Figure 1 - Simple Cut List"
    )
    with pytest.raises(TimelineError, match="no such timeline file"):
        read_timeline("/nowhere/edit.otio")


def test_unknown_content_is_an_unknown_format_error():
    with pytest.raises(UnknownFormat) as caught:
        read_timeline(b"\x00\x01 certainly not a timeline", source_name="upload.bin")
    assert caught.value.file == "upload.bin"
    assert "upload.bin" in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b'{"OTIO_SCHEMA": "Timeline.1", "name": "x", "tracks": ', b"<xmeml><seq"],
)
def test_empty_or_cut_off_files_are_typed_errors(data: bytes):
    with pytest.raises((EmptyTimeline, MalformedTimeline)):
        read_timeline(data, source_name="cut.otio")


def test_a_timeline_without_items_is_empty():
    with pytest.raises(EmptyTimeline, match="no tracks"):
        read_timeline(otio.adapters.write_to_string(otio.schema.Timeline()).encode())
    with pytest.raises(EmptyTimeline, match="empty"):
        read_timeline(otio.adapters.write_to_string(timeline(track())).encode())


def test_a_file_holding_a_clip_is_not_a_timeline():
    data = otio.adapters.write_to_string(clip("A", 0, 10)).encode()
    with pytest.raises(MalformedTimeline, match="holds a Clip"):
        read_timeline(data)


def test_xml_entities_are_refused():
    data = (
        b'<?xml version="1.0"?><!DOCTYPE xmeml [<!ENTITY a "aaaa">]>'
        b"<xmeml><sequence>&a;</sequence></xmeml>"
    )
    with pytest.raises(MalformedTimeline, match="entity"):
        read_timeline(data)


def test_directory_without_a_bundle_is_unknown(tmp_path: Path):
    with pytest.raises(UnknownFormat, match="directory"):
        read_timeline(tmp_path)


def test_fcpxmld_bundle_reads_its_info_file(tmp_path: Path):
    bundle = tmp_path / "cut.fcpxmld"
    bundle.mkdir()
    (bundle / "Info.fcpxml").write_bytes((DATA / "two_projects.fcpxml").read_bytes())
    assert read_timeline(bundle).format == "fcpxml"


def test_format_names_and_choices():
    assert normalize_format("XML") == "fcp_xml"
    assert normalize_format(".fcpxml") == "fcpxml"
    assert normalize_format("cmx_3600") == "edl"
    with pytest.raises(UnknownFormat):
        normalize_format("mp4")
    assert set(writable_formats()) < set(readable_formats())
    assert "edl" not in writable_formats()
    assert result_format("edl") == ("otio", (result_format("edl")[1][0],))
    assert result_format("aaf") == ("aaf", ())
    assert result_format("edl", "fcpxml") == ("fcpxml", ())
    with pytest.raises(UnsupportedFormat):
        result_format("otio", "edl")


def test_sniffing_tells_each_format_apart():
    assert sniff_format((DATA / "hiero_xml_export.xml").read_bytes()) == "fcp_xml"
    assert sniff_format(b'\xef\xbb\xbf{\n "OTIO_SCHEMA": "Timeline.1"}') == "otio"
    assert sniff_format(b'{"not": "otio"}') is None
    assert (
        sniff_format(b"001  AX V     C        01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00")
        == "edl"
    )
    assert sniff_format(b"hello world") is None


def test_bytes_round_trip_in_every_byte_format():
    edit = three_clip_timeline()
    for format in ("otio", "otioz", "fcp_xml", "fcpxml", "aaf"):
        back = read_timeline(timeline_to_bytes(edit, format), source_name=f"x.{format}")
        assert back.format == format
        frames = [c.duration().to_frames() for c in back.timeline.video_tracks()[0].find_clips()]
        assert frames == [10, 12, 8], format


PAL_EDL = b"""TITLE: pal cut
001  AX       V     C        10:00:00:00 10:00:01:00 01:00:00:00 01:00:01:00
* FROM CLIP NAME:  A
002  AX       V     C        10:00:05:24 10:00:06:10 01:00:01:00 01:00:01:11
* FROM CLIP NAME:  B
"""
NTSC_DF_EDL = b"""TITLE: ntsc cut
FCM: DROP FRAME
001  AX       V     C        00:59:59;28 01:00:01;00 01:00:00;00 01:00:01;02
* FROM CLIP NAME:  A
"""


def test_edl_rate_is_inferred_from_its_timecodes():
    pal = read_timeline(PAL_EDL)
    assert any("25 fps" in note for note in pal.notes)
    clips = spot_clips(pal.timeline)
    assert clips[0].rate == Fraction(25)
    assert [(c.record_start_frame, c.record_duration_frames) for c in clips] == [(0, 25), (25, 11)]
    assert clips[1].record_timecode == "01:00:01:00"
    assert clips[1].media_timecode == "10:00:05:24"


def test_drop_frame_edl_reads_at_2997_with_drop_frame_timecode():
    loaded = read_timeline(NTSC_DF_EDL)
    [clip] = spot_clips(loaded.timeline)
    assert clip.rate == Fraction(30000, 1001)
    assert clip.record_timecode == "01:00:00;00"
    assert clip.record_duration_frames == 32  # 59;28 -> 01;00 crosses the dropped ;00 and ;01


def test_explicit_edl_rate_wins():
    loaded = read_timeline(PAL_EDL, edl_rate=25)
    assert spot_clips(loaded.timeline)[0].rate == Fraction(25)
    assert not any("fps" in note for note in loaded.notes)
    # At 30 fps clip B's source (24 frames past :05) no longer matches its record length.
    with pytest.raises(MalformedTimeline, match="clip B"):
        read_timeline(PAL_EDL, edl_rate=30)

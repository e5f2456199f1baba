"""Results in the editor's own format: the original document plus the Foley, nothing else.

Every XML timeline of tests/data/timelines (real exports and hand-written feature documents)
goes through read -> spot -> patch, and the native fidelity check compares input and result
element by element in their own format (not after an OTIO adapter).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from timeline_builders import make_placeholder_media

from timeline.errors import MalformedTimeline, ResultError, TimelineError
from timeline.formats import read_timeline
from timeline.native import check_fidelity, result_document
from timeline.records import ClipStatus, GeneratedAudio, MediaMap, SpottedClip
from timeline.spotting import spot_clips

DATA = Path(__file__).resolve().parents[2] / "data" / "timelines"
NATIVE = DATA / "native"
XML_SAMPLES = sorted(
    [*DATA.glob("*.xml"), *DATA.glob("*.fcpxml"), *NATIVE.glob("*.xml"), *NATIVE.glob("*.fcpxml")]
)
MEDIA_NAMES = (
    "shot_a.mov",
    "shot_b.mov",
    "score.wav",
    "cam_a.mov",
    "cam_b.mov",
    "pal.mov",
    "sc01_sh010_anim.mov",
    "sc01_sh020_anim.mov",
    "sc01_sh030_anim.mov",
    "sc01_master_layerA_sh030_temp.mov",
    "A160C005_171213_R0MN.mxf",
    "IMG_0233.MOV",
    "IMG_0268.MOV",
    "IMG_0857.MOV",
    "IMG_0858.MOV",
    "A.mov",
    "B.mov",
)


@pytest.fixture(scope="module")
def media_map(tmp_path_factory: pytest.TempPathFactory) -> MediaMap:
    """Placeholder files with the base names the samples reference (relinking needs a file)."""
    root = tmp_path_factory.mktemp("media")
    for name in MEDIA_NAMES:
        (root / name).write_bytes(b"placeholder")
    return MediaMap(search_roots=(root,))


def _spot(path: Path, media_map: MediaMap, name: str | None = None):  # type: ignore[no-untyped-def]
    loaded = read_timeline(path, timeline_name=name)
    return loaded, spot_clips(loaded.timeline, media_map)


def _audio_for(spotted: list[SpottedClip]) -> list[GeneratedAudio]:
    return [
        GeneratedAudio(
            clip.clip_id,
            Path(f"/srv/foley/audio/{index:03d}_foley.wav"),
            {"prompt": "footsteps", "engine": "procedural", "seed": 7},
        )
        for index, clip in enumerate(spotted)
        if clip.status == ClipStatus.SPOTTED
    ]


@pytest.mark.parametrize("path", XML_SAMPLES, ids=lambda p: p.name)
def test_every_xml_sample_keeps_every_element_and_adds_only_foley(
    path: Path, media_map: MediaMap
) -> None:
    loaded, spotted = _spot(path, media_map)
    audio = _audio_for(spotted)
    assert audio, "each sample has at least one spotted clip"
    document = result_document(loaded, spotted, audio, handles_frames=2)
    assert document.native and document.format == loaded.format
    report = check_fidelity(loaded.original, document.data, document.format)
    assert report.problems == ()
    assert report.added  # the Foley is there
    # Each Foley file is referenced exactly once by its path.
    text = document.data.decode("utf-8")
    for generated in audio:
        assert text.count(generated.audio_path.name) >= 1


def _foley_clipitems(data: bytes) -> list[tuple[str, int, int, int, int]]:
    root = etree.fromstring(data)
    found = []
    for track in root.iter("track"):
        name = track.get("MZ.TrackName", "")
        if not name.startswith("Foley V"):
            continue
        for item in track.iterfind("clipitem"):
            found.append(
                (
                    name,
                    int(item.findtext("start")),
                    int(item.findtext("end")),
                    int(item.findtext("in")),
                    int(item.findtext("out")),
                )
            )
    return found


def test_fcp7_features_get_exact_foley_and_disabled_material_none(media_map: MediaMap) -> None:
    loaded, spotted = _spot(NATIVE / "fcp7_features.xml", media_map)
    by_name = {clip.name: clip for clip in spotted}
    assert by_name["disabled clip"].status == ClipStatus.SKIPPED
    assert "disabled" in by_name["disabled clip"].reason
    assert by_name["on disabled track"].status == ClipStatus.SKIPPED
    assert "disabled" in by_name["on disabled track"].reason
    double = by_name["double speed"]
    assert (double.time_scalar, double.media_start_frame, double.media_duration_frames) == (
        2.0,
        100.0,
        96.0,
    )
    reverse = by_name["reversed"]
    assert (reverse.time_scalar, reverse.media_start_frame, reverse.media_duration_frames) == (
        -1.0,
        300.0,
        48.0,
    )
    freeze = by_name["freeze"]
    assert freeze.time_scalar == 0.0 and freeze.media_duration_s == 0.0
    assert by_name["plain"].record_timecode == "01:00:00:00"  # 23.976 counts non-drop
    assert by_name["plain"].prompt == "boots on gravel"
    assert (by_name["inside nest"].record_start_frame, by_name["inside nest"].status) == (
        240,
        ClipStatus.SPOTTED,
    )
    assert by_name["inside nest disabled"].status == ClipStatus.SKIPPED
    # Every audio track of the document is read, in order, with its enabled flag.
    audio = [t for t in loaded.timeline.tracks if t.kind == "Audio"]
    assert [t.enabled for t in audio] == [True, False, True]

    document = result_document(loaded, spotted, _audio_for(spotted), handles_frames=3)
    assert _foley_clipitems(document.data) == [
        ("Foley V1", 0, 48, 3, 51),
        ("Foley V1", 96, 144, 3, 51),
        ("Foley V1", 144, 192, 3, 51),
        ("Foley V1", 192, 240, 3, 51),
        ("Foley V1", 240, 288, 3, 51),  # inside the nested sequence; its disabled clip: none
    ]
    root = etree.fromstring(document.data)
    audio_tracks = root.findall("./sequence/media/audio/track")
    # The three original audio tracks stay first, in order, with their names; Foley follows.
    assert [t.get("MZ.TrackName") for t in audio_tracks] == [
        "Dialogue",
        "Music",
        "Empty A3",
        "Foley V1",
    ]
    assert root.find("./sequence/media/audio/track[2]/enabled").text == "FALSE"


def test_fcp7_drop_frame_start_timecode_and_second_sequence(media_map: MediaMap) -> None:
    path = NATIVE / "fcp7_2997df_two_sequences.xml"
    loaded, spotted = _spot(path, media_map)
    assert [(c.name, c.record_start_frame, c.record_timecode) for c in spotted] == [
        ("cam a", 0, "00:59:58;00"),
        ("cam b at half speed", 60, "01:00:00;00"),
        ("multicam interview", 0, "00:59:58;00"),
    ]
    # The multicam clip is reported, not spotted (its shown angle is not read), and kept.
    assert spotted[2].status == ClipStatus.SKIPPED
    assert spotted[1].time_scalar == 0.5 and spotted[1].media_duration_frames == 30.0
    document = result_document(loaded, spotted, _audio_for(spotted))
    assert _foley_clipitems(document.data) == [
        ("Foley V1", 0, 60, 0, 60),
        ("Foley V1", 60, 120, 0, 60),
    ]
    assert b'<multiclip id="multiclip-1">' in document.data
    # The element from a newer app version is kept exactly.
    assert b'<newerappfeature strength="7">kept as it is</newerappfeature>' in document.data

    second, spotted_second = _spot(path, media_map, "second sequence")
    assert [(c.record_start_frame, c.record_timecode) for c in spotted_second] == [
        (10, "10:00:00:10")
    ]
    result = result_document(second, spotted_second, _audio_for(spotted_second)).data
    root = etree.fromstring(result)
    first, other = root.findall(".//children/sequence")
    assert first.find("media/audio/track[@MZ.TrackName='Foley V1']") is None
    assert other.find("media/audio/track[@MZ.TrackName='Foley V1']") is not None
    assert check_fidelity(second.original, result, "fcp_xml").ok


def test_fcpxml_start_timecode_disabled_clip_and_connected_foley(media_map: MediaMap) -> None:
    loaded, spotted = _spot(NATIVE / "fcpxml_features.fcpxml", media_map)
    assert loaded.timeline.global_start_time.value == 86400  # tcStart 01:00:00:00 at 23.976
    by_name = {clip.name: clip for clip in spotted}
    # Exact 23.976 timing from the document (the adapter alone reads 46 frames and in 9).
    assert (by_name["plain"].record_start_frame, by_name["plain"].record_duration_frames) == (0, 48)
    assert by_name["plain"].media_start_frame == 10
    assert by_name["plain"].record_timecode == "01:00:00:00"
    assert by_name["inside compound"].record_start_frame == 144
    # Inside the compound clip too: 48048/24000 s is 48 frames (the adapter read 46), and the
    # clip's first frame is its asset's (start 3600 s: frame 86314 at 23.976, 00:59:56:10 NDF).
    inside = by_name["inside compound"]
    assert (inside.record_duration_frames, inside.media_duration_frames) == (48, 48.0)
    assert (inside.media_start_s, inside.media_start_frame) == (0.0, 86314.0)
    assert inside.media_timecode == "00:59:56:10"
    assert by_name["disabled clip"].status == ClipStatus.SKIPPED
    document = result_document(loaded, spotted, _audio_for(spotted))
    root = etree.fromstring(document.data)
    plain = root.find(".//spine/asset-clip[@name='plain']")
    foley = plain.find("asset-clip")
    # Connected at the picture's own first frame (its local start, 10 frames), below the
    # existing lane -1 of the sequence.
    assert (foley.get("offset"), foley.get("lane"), foley.get("audioRole")) == (
        "1001/2400s",
        "-2",
        "Foley.Foley V1",
    )
    assert root.find(".//spine/asset-clip[@name='disabled clip']/asset-clip") is None
    assert foley.get("duration") == "1001/500s"  # 48 frames of 1001/24000 s
    # Asset-clips go before markers and filters (the DTD's order).
    assert [child.tag for child in plain] == ["asset-clip", "marker", "filter-video"]
    asset = root.find(f"./resources/asset[@id='{foley.get('ref')}']")
    # FCPXML 1.8 names media in the asset's src (1.9 and later: a <media-rep>).
    assert asset.get("src").startswith("file:///srv/foley/audio/")


def test_fidelity_check_reports_a_changed_missing_or_foreign_element(
    media_map: MediaMap,
) -> None:
    loaded, spotted = _spot(NATIVE / "fcp7_features.xml", media_map)
    good = result_document(loaded, spotted, _audio_for(spotted)).data
    assert check_fidelity(loaded.original, good, "fcp_xml").ok
    changed = good.replace(b"<value>120</value>", b"<value>121</value>", 1)
    problems = check_fidelity(loaded.original, changed, "fcp_xml").problems
    assert len(problems) == 1 and "<value" in problems[0] and "changed" in problems[0]
    missing = good.replace(b"<uuid>0d2c7a38-62b4-4bd6-9e55-2b6f3c1f9a01</uuid>", b"", 1)
    assert "missing" in check_fidelity(loaded.original, missing, "fcp_xml").problems[0]
    foreign = good.replace(b"</xmeml>", b"<sequence><name>extra</name></sequence></xmeml>")
    assert "not Foley" in check_fidelity(loaded.original, foreign, "fcp_xml").problems[0]
    renamed = good.replace(b'MZ.TrackName="Dialogue"', b'MZ.TrackName="Dialog"')
    assert not check_fidelity(loaded.original, renamed, "fcp_xml").ok


def test_new_ids_never_collide_with_existing_ones(media_map: MediaMap, tmp_path: Path) -> None:
    text = (NATIVE / "fcp7_features.xml").read_text()
    text = text.replace('id="clipitem-11"', 'id="foley-clipitem-1"').replace(
        'id="file-3"', 'id="foley-file-1"'
    )
    path = tmp_path / "taken_ids.xml"
    path.write_text(text)
    loaded, spotted = _spot(path, media_map)
    data = result_document(loaded, spotted, _audio_for(spotted)).data
    ids = etree.fromstring(data).xpath("//clipitem/@id")
    assert len(ids) == len(set(ids))
    assert "foley-clipitem-2" in ids


def test_duplicate_clipitem_ids_are_a_typed_error_naming_file_and_element(
    media_map: MediaMap, tmp_path: Path
) -> None:
    text = (NATIVE / "fcp7_features.xml").read_text().replace('id="clipitem-4"', 'id="clipitem-3"')
    path = tmp_path / "duplicate.xml"
    path.write_text(text)
    # Refused on reading, before any clip would be generated.
    with pytest.raises(MalformedTimeline) as raised:
        read_timeline(path)
    assert raised.value.file == str(path)
    assert 'clipitem id="clipitem-3"' in str(raised.value)


def test_duplicate_fcpxml_resource_ids_are_refused(media_map: MediaMap, tmp_path: Path) -> None:
    text = (NATIVE / "fcpxml_features.fcpxml").read_text().replace('id="r6"', 'id="r5"')
    path = tmp_path / "duplicate.fcpxml"
    path.write_text(text)
    with pytest.raises(MalformedTimeline, match=r'duplicate id: <effect id="r5">'):
        read_timeline(path)


def test_foley_with_no_storyline_under_it_is_a_typed_error(media_map: MediaMap) -> None:
    loaded, spotted = _spot(DATA / "two_projects.fcpxml", media_map)
    import dataclasses

    beyond = [dataclasses.replace(spotted[0], record_start_frame=100_000)]
    with pytest.raises(ResultError) as raised:
        result_document(loaded, beyond, _audio_for(beyond))
    assert raised.value.clip == spotted[0].name
    assert raised.value.file and raised.value.file.endswith("two_projects.fcpxml")


def test_malformed_xml_is_a_typed_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_bytes((NATIVE / "fcp7_features.xml").read_bytes()[:-40])
    with pytest.raises(TimelineError) as raised:
        read_timeline(path)
    assert raised.value.file == str(path)


def test_other_formats_are_still_answered_through_otio(media_map: MediaMap) -> None:
    loaded, spotted = _spot(NATIVE / "fcp7_features.xml", media_map)
    document = result_document(loaded, spotted, _audio_for(spotted), target_format="otio")
    assert not document.native and document.format == "otio"
    assert b'"Foley V1"' in document.data


AAF_SAMPLES = ("simple.aaf", "transitions.aaf", "2997fps-DFTC.aaf")


@pytest.mark.parametrize("name", AAF_SAMPLES)
def test_aaf_result_is_a_copy_of_the_original_plus_foley_slots(
    name: str, media_map: MediaMap, tmp_path: Path
) -> None:

    from timeline.aaf_native import aaf_fidelity

    loaded = read_timeline(DATA / name)
    make_placeholder_media(loaded.timeline, tmp_path / "media")
    spotted = spot_clips(loaded.timeline, MediaMap(search_roots=(tmp_path / "media",)))
    audio = _audio_for(spotted)
    assert audio
    document = result_document(loaded, spotted, audio, handles_frames=2)
    assert document.native and document.format == "aaf"
    report = aaf_fidelity(loaded.original, document.data)
    assert report.problems == ()
    # One slot per lane plus a master and a file mob per clip.
    assert sum("slot 'Foley V" in label for label in report.added) >= 1
    assert sum(label.startswith("MasterMob 'Foley ") for label in report.added) == len(audio)
    # Read back by the OTIO adapter: the Foley sits exactly under the pictures.
    path = tmp_path / f"result_{name}"
    path.write_bytes(document.data)
    result = read_timeline(path).timeline
    foley = [track for track in result.tracks if track.name.startswith("Foley V")]
    placed = sorted(
        (round(clip.range_in_parent().start_time.value), round(clip.duration().value))
        for track in foley
        for clip in track.find_clips()
    )
    expected = sorted(
        (clip.record_start_frame, clip.record_duration_frames)
        for clip in spotted
        if clip.status == ClipStatus.SPOTTED
    )
    assert placed == expected


def test_aaf_fidelity_check_fails_for_a_regenerated_file() -> None:
    from timeline.aaf_native import aaf_fidelity
    from timeline.formats import timeline_to_bytes

    loaded = read_timeline(DATA / "simple.aaf")
    written_by_adapter = timeline_to_bytes(loaded.timeline, "aaf")
    report = aaf_fidelity(loaded.original, written_by_adapter)
    assert not report.ok
    assert any("missing from the result" in problem for problem in report.problems)


def test_fcpxml_second_project_at_2997_drop_frame(media_map: MediaMap) -> None:
    loaded, spotted = _spot(NATIVE / "fcpxml_features.fcpxml", media_map, "second 2997 DF")
    assert [(c.name, c.record_start_frame, c.record_duration_frames, c.record_timecode)
            for c in spotted] == [("df clip", 0, 60, "01:00:00;00")]  # fmt: skip
    document = result_document(loaded, spotted, _audio_for(spotted))
    root = etree.fromstring(document.data)
    first, second = root.iter("project")
    assert first.find(".//asset-clip[@audioRole='Foley.Foley V1']") is None
    foley = second.find(".//spine/asset-clip/asset-clip")
    assert (foley.get("offset"), foley.get("duration")) == ("0s", "1001/500s")
    assert check_fidelity(loaded.original, document.data, "fcpxml").ok

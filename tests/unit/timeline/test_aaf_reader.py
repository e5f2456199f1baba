"""The native AAF reader against its oracle, OpenTimelineIO's AAF adapter.

Every AAF the tests use is read both ways; the spotted clips (record and media ranges, speed,
media path, names, prompts, skip reasons, ids) and the timeline's layout (tracks, items,
ranges, enabled flags, media references with their keys and available ranges, effects,
markers with their ranges and colours, transitions) must be identical. The files: the five
samples, AAFs written by OTIO's writer and then edited with pyaaf2 into the structures Media
Composer writes (markers, effects, selectors, a nested scope, an essence group, time warps),
and a patched result. Files holding structures the reader does not model must be read by the
adapter, with a log line naming the file, the mob and the slot; broken files give typed errors
naming the file.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import uuid
from pathlib import Path
from typing import Any

import aaf2
import opentimelineio as otio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otio_aaf_adapter.adapters import advanced_authoring_format as adapter_module
from timeline_builders import clip, gap, make_placeholder_media, rt, timeline, track

from timeline.aaf_native import aaf_fidelity
from timeline.aaf_reader import UnsupportedAAFStructure, marker_color, read_aaf
from timeline.errors import EmptyTimeline, MalformedTimeline, TimelineError
from timeline.formats import read_timeline, write_timeline
from timeline.native import result_document
from timeline.records import ClipStatus, GeneratedAudio, MediaMap, SpottedClip
from timeline.selection import select_timeline
from timeline.spotting import spot_clips

DATA = Path(__file__).resolve().parents[2] / "data" / "timelines"
# Every sample: dissolves, speed changes, markers on the sequence and on the master clip
# (one_clip), a nested scope and audio gain effects on clips (2997fps-DFTC).
READ_NATIVELY = (
    "simple.aaf",
    "transitions.aaf",
    "linear_speed_effects.aaf",
    "one_clip.aaf",
    "2997fps-DFTC.aaf",
)


def _adapter(path: Path) -> otio.schema.Timeline:
    parsed = otio.adapters.read_from_file(str(path), adapter_name="AAF")
    return select_timeline(parsed, None, str(path))[0]


def _layout(edit: otio.schema.Timeline) -> list[Any]:
    """Everything spotting and the result use, as plain values."""

    def references(item: otio.schema.Clip) -> list[Any]:
        return [
            (
                key,
                type(reference).__name__,
                reference.name,
                getattr(reference, "target_url", None),
                str(reference.available_range),
            )
            for key, reference in item.media_references().items()
        ]

    def effects(item: otio.core.Item) -> list[Any]:
        return [
            (
                type(effect).__name__,
                effect.name,
                effect.effect_name,
                getattr(effect, "time_scalar", None),
            )
            for effect in item.effects
        ]

    def describe(item: otio.core.Composable) -> Any:
        if isinstance(item, otio.schema.Transition):
            return ("Transition", item.name, str(item.in_offset), str(item.out_offset))
        row = [type(item).__name__, item.name, str(item.source_range), item.enabled]
        row.append(effects(item))
        row.append(
            [(marker.name, str(marker.marked_range), marker.color) for marker in item.markers]
        )
        if isinstance(item, otio.schema.Clip):
            row.append(item.active_media_reference_key)
            row.append(references(item))
        if isinstance(item, otio.core.Composition):
            row.append([describe(child) for child in item])
        return row

    stack_markers = [(m.name, str(m.marked_range), m.color) for m in edit.tracks.markers]
    return [
        edit.name,
        str(edit.global_start_time),
        stack_markers,
        [describe(t) for t in edit.tracks],
    ] + [(t.kind,) for t in edit.tracks]


def _spotted(edit: otio.schema.Timeline, media: Path) -> list[dict[str, Any]]:
    return [
        dataclasses.asdict(spotted) for spotted in spot_clips(edit, MediaMap(search_roots=(media,)))
    ]


def _assert_same_as_adapter(path: Path, tmp_path: Path) -> otio.schema.Timeline:
    ours = read_timeline(path).timeline
    oracle = _adapter(path)
    assert _layout(ours) == _layout(oracle)
    media = make_placeholder_media(oracle, tmp_path / "media")
    ours_spotted = _spotted(ours, media)
    assert ours_spotted == _spotted(oracle, media)
    assert ours_spotted, "a sample without picture clips proves nothing"
    return ours


@pytest.fixture(scope="module")
def generated_aaf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AAF written by OTIO's writer (as the benchmark's): two picture tracks with gaps and
    clips sharing media, an audio track, a start at 01:00:00:00."""
    folder = tmp_path_factory.mktemp("generated")
    v1 = [
        clip(f"shot {i}", 86400 + i * 7, 24 + i % 5, url=f"file:///m/s{i % 4}.mov")
        for i in range(12)
    ]
    v2 = track(gap(30), clip("insert", 86410, 20), gap(12), clip("insert 2", 86500, 9), name="V2")
    audio = track(
        clip("room tone", 0, 100, url="file:///m/tone.wav"),
        name="A1",
        kind=otio.schema.TrackKind.Audio,
    )
    edit = timeline(track(*v1, name="V1"), v2, audio, name="generated", global_start=rt(86400))
    path = folder / "generated.aaf"
    write_timeline(edit, "aaf", path)
    return path


@pytest.mark.parametrize("name", READ_NATIVELY)
def test_samples_read_natively_equal_the_adapter(name: str, tmp_path: Path) -> None:
    read_aaf(str(DATA / name), file=name)  # raises UnsupportedAAFStructure if not native
    _assert_same_as_adapter(DATA / name, tmp_path)


# --- hand-built Avid structures ------------------------------------------------------------
# An AAF written by OTIO's writer, then edited with pyaaf2 into what Media Composer writes:
# slots numbered as Avid numbers them (picture from 9, physical track numbers), markers in
# event slots, effects, selectors, a nested scope, an essence group.


def _base_edit(path: Path) -> None:
    v1 = track(
        clip("a", 10, 24, url="file:///m/a.mov"),
        gap(12),
        clip("b", 40, 30, url="file:///m/b.mov"),
        clip("c", 5, 20, url="file:///m/c.mov"),
        clip("d", 0, 16, url="file:///m/d.mov"),
        name="V1",
    )
    v2 = track(gap(20), clip("e", 100, 24, url="file:///m/e.mov"), name="V2")
    a1 = track(
        clip("tone", 0, 60, url="file:///m/tone.wav"),
        clip("tone2", 60, 30, url="file:///m/tone.wav"),
        name="A1",
        kind=otio.schema.TrackKind.Audio,
    )
    write_timeline(timeline(v1, v2, a1, name="avid", global_start=rt(86400)), "aaf", path)


def _operation(aaf_file: Any, name: str, *, time_warp: bool = False, kind: str = "picture") -> Any:
    definition = aaf_file.create.OperationDef(uuid.uuid5(uuid.NAMESPACE_URL, name), name, "")
    definition["IsTimeWarp"].value = time_warp
    definition["NumberInputs"].value = 1
    definition["OperationCategory"].value = "OperationCategory_Effect"
    definition.media_kind = kind
    aaf_file.dictionary.register_def(definition)
    return definition


def _copy(aaf_file: Any, component: Any) -> Any:
    """A detached copy of a source clip or filler (pyaaf2 objects have one parent)."""
    if isinstance(component, aaf2.components.SourceClip):
        return aaf_file.create.SourceClip(
            component.start,
            component.length,
            component.mob_id,
            component.slot_id,
            component.media_kind,
        )
    return aaf_file.create.Filler(component.media_kind, component.length)


def _effect(aaf_file: Any, operation: Any, segment: Any, kind: str = "picture") -> Any:
    group = aaf_file.create.OperationGroup(operation, segment.length, kind)
    group.segments.append(segment)
    return group


def _marker(aaf_file: Any, position: int, slot_id: int, comment: str) -> Any:
    marker = aaf_file.create.DescriptiveMarker()
    marker["Position"].value = position
    marker["Comment"].value = comment
    marker["DescribedSlots"].value = {slot_id}
    marker.media_kind = "DescriptiveMetadata"
    return marker


def _event_slot(aaf_file: Any, mob: Any, slot_id: int, number: int, markers: list[Any]) -> None:
    sequence = aaf_file.create.Sequence("DescriptiveMetadata")
    for marker in markers:
        sequence.components.append(marker)
    slot = aaf_file.create.EventMobSlot()
    slot["SlotID"].value = slot_id
    slot["PhysicalTrackNumber"].value = number
    slot["EditRate"].value = 24
    slot.segment = sequence
    mob.slots.append(slot)


def _avid_slots(composition: Any) -> list[Any]:
    """V1, V2, A1 renumbered 9, 10, 11 on physical tracks 1, 2, 1 (Avid's numbering)."""
    slots = list(composition.slots)[:3]
    for slot, (slot_id, number) in zip(slots, ((9, 1), (10, 2), (11, 1)), strict=True):
        slot["SlotID"].value = slot_id
        slot["PhysicalTrackNumber"].value = number
    return slots


def _build_avid_features(path: Path) -> None:
    """Markers (sequence, master clip, a gap, past the end, an unknown track, a nested
    scope), nested filters on a clip, a selector, a muted clip, a nested scope, an audio gain
    under the slot's pan, an essence group in a master clip."""
    _base_edit(path)
    with aaf2.open(str(path), "rw") as aaf_file:
        composition = next(aaf_file.content.toplevel())
        masters = {mob.name: mob for mob in aaf_file.content.mastermobs()}
        v1, v2, a1 = _avid_slots(composition)
        old = list(v1.segment.components)
        a, filler, b, c, d = (_copy(aaf_file, component) for component in old)
        filters = _effect(
            aaf_file,
            _operation(aaf_file, "Color Correction"),
            _effect(aaf_file, _operation(aaf_file, "Blur"), b),
        )
        take = aaf_file.create.Selector()
        take.media_kind, take.length = "picture", c.length
        take["Selected"].value = c
        take["Alternates"].value = [_copy(aaf_file, old[4])]
        muted = aaf_file.create.Selector()
        muted.media_kind, muted.length = "picture", d.length
        muted["Selected"].value = aaf_file.create.Filler("picture", d.length)
        muted["Alternates"].value = [d]
        v1.segment["Components"].value = [a, filler, filters, take, muted]
        inner = aaf_file.create.Sequence("picture")
        inner["Components"].value = [_copy(aaf_file, item) for item in v2.segment.components]
        scope = aaf_file.create.NestedScope()
        scope.media_kind, scope.length = "picture", inner.length
        scope["Slots"].value = [inner]
        v2.segment = scope
        panned = a1.segment.segments[0]
        tone, tone2 = (_copy(aaf_file, item) for item in panned.components)
        gain = _operation(aaf_file, "Mono Audio Gain", kind="sound")
        panned["Components"].value = [tone, _effect(aaf_file, gain, tone2, "sound")]
        e_slot = next(iter(masters["e"].slots))
        media = e_slot.segment
        choices = aaf_file.create.EssenceGroup()
        choices.media_kind, choices.length = "picture", media.length
        choices["Choices"].value = [_copy(aaf_file, media), _copy(aaf_file, media)]
        e_slot.segment = choices
        _event_slot(
            aaf_file,
            composition,
            1000,
            1,
            [
                _marker(aaf_file, 5, 9, "foley: footsteps on gravel"),
                _marker(aaf_file, 30, 9, "on the gap"),
                _marker(aaf_file, 45, 9, "on the filters"),
                _marker(aaf_file, 500, 9, "past the end"),
                _marker(aaf_file, 7, 99, "no such track"),
            ],
        )
        _event_slot(aaf_file, composition, 1001, 2, [_marker(aaf_file, 25, 10, "in the scope")])
        # Master clip markers: kept outside the cut on a plain clip, dropped outside it under
        # the slot-wide pan (the adapter trims the effect's clips).
        for master, positions in (("a", (12, 50)), ("tone", (5, 80))):
            slot = next(iter(masters[master].slots))
            slot["PhysicalTrackNumber"].value = 1
            markers = [_marker(aaf_file, at, slot.slot_id, f"{master} at {at}") for at in positions]
            _event_slot(aaf_file, masters[master], 1002, 1, markers)


def _parameter(aaf_file: Any, name: str, typedef: str, value: Any) -> Any:
    definition = aaf_file.create.ParameterDef(
        uuid.uuid5(uuid.NAMESPACE_URL, f"parameter {name}"),
        name,
        "",
        aaf_file.dictionary.lookup_typedef(typedef),
    )
    aaf_file.dictionary.register_def(definition)
    return aaf_file.create.ConstantValue(definition, value)


def _build_avid_time_effects(path: Path) -> None:
    """A slow motion with a marker inside and one past its media, a speed curve (Motion
    Control without a speed ratio), another time warp, a rendered filter."""
    _base_edit(path)
    with aaf2.open(str(path), "rw") as aaf_file:
        composition = next(aaf_file.content.toplevel())
        v1 = _avid_slots(composition)[0]
        a, filler, b, c, d = (_copy(aaf_file, item) for item in v1.segment.components)
        motion = _operation(aaf_file, "Motion Control", time_warp=True)
        a.length = 12
        slow = aaf_file.create.OperationGroup(motion, 24, "picture")
        slow.segments.append(a)
        slow.parameters.append(_parameter(aaf_file, "SpeedRatio", "Rational", "1/2"))
        curve = aaf_file.create.OperationGroup(motion, 30, "picture")
        curve.segments.append(b)
        warp = _effect(aaf_file, _operation(aaf_file, "Trim To Fill", time_warp=True), c)
        rendered = _effect(aaf_file, _operation(aaf_file, "Flop"), d)
        rendered["Rendering"].value = _copy(aaf_file, d)
        v1.segment["Components"].value = [slow, filler, curve, warp, rendered]
        _event_slot(
            aaf_file,
            composition,
            1000,
            1,
            [
                _marker(aaf_file, 3, 9, "inside the slow motion"),
                _marker(aaf_file, 18, 9, "past the slow motion's media"),
                _marker(aaf_file, 40, 9, "on the curve"),
            ],
        )


def _build_two_segment_scope(path: Path) -> None:
    """A nested scope of two segments (the second reusing the first): read by the adapter."""
    _base_edit(path)
    with aaf2.open(str(path), "rw") as aaf_file:
        v2 = _avid_slots(next(aaf_file.content.toplevel()))[1]
        segments = []
        for _ in range(2):
            inner = aaf_file.create.Sequence("picture")
            inner["Components"].value = [_copy(aaf_file, item) for item in v2.segment.components]
            segments.append(inner)
        scope = aaf_file.create.NestedScope()
        scope.media_kind, scope.length = "picture", segments[0].length
        scope["Slots"].value = segments
        v2.segment = scope


def _build_markers_on_master_slot_numbers(path: Path) -> None:
    """Sequence markers on V1 (slot 1, track 1), numbers every master clip's picture slot has
    too: the adapter's track map then holds the last clip's copied master slot, so both land
    on the last picture clip (V2's), in its media time."""
    _base_edit(path)
    with aaf2.open(str(path), "rw") as aaf_file:
        composition = next(aaf_file.content.toplevel())
        v1 = next(iter(composition.slots))
        v1["PhysicalTrackNumber"].value = 1
        for master in aaf_file.content.mastermobs():
            next(iter(master.slots))["PhysicalTrackNumber"].value = 1
        markers = [_marker(aaf_file, 5, 1, "at 5"), _marker(aaf_file, 30, 1, "at 30")]
        _event_slot(aaf_file, composition, 1000, 1, markers)


def _build_lone_segments(path: Path) -> None:
    """Slots holding one item without a sequence: V1 a clip under a filter, V2 a clip, A1 a
    filler (dropped), and a marker on V2's clip."""
    _base_edit(path)
    with aaf2.open(str(path), "rw") as aaf_file:
        composition = next(aaf_file.content.toplevel())
        v1, v2, a1 = _avid_slots(composition)
        first = _copy(aaf_file, next(iter(v1.segment.components)))
        v1.segment = _effect(aaf_file, _operation(aaf_file, "Mosaic"), first)
        v2.segment = _copy(aaf_file, list(v2.segment.components)[1])
        a1.segment = aaf_file.create.Filler("sound", 90)
        _event_slot(aaf_file, composition, 1000, 2, [_marker(aaf_file, 4, 10, "lone clip")])


def _build_markers_at_2997(path: Path) -> None:
    """2997fps-DFTC.aaf (a nested scope, 29.97 sequence over 23.976 media) with sequence
    markers at 29.97 on the picture and an audio track, and a master clip marker at 23.976."""
    path.write_bytes((DATA / "2997fps-DFTC.aaf").read_bytes())
    with aaf2.open(str(path), "rw") as aaf_file:
        composition = next(aaf_file.content.toplevel())
        master = next(aaf_file.content.mastermobs())
        markers = [_marker(aaf_file, 1234, 1, "foley: door"), _marker(aaf_file, 100, 2, "A1")]
        _event_slot(aaf_file, composition, 1000, 1, markers)
        list(composition.slots)[-1]["EditRate"].value = "30000/1001"
        _event_slot(aaf_file, master, 1000, 1, [_marker(aaf_file, 777, 1, "master")])
        list(master.slots)[-1]["EditRate"].value = "24000/1001"


def _build_essence_group_in_sequence(path: Path) -> None:
    """An essence group edited into a sequence (the adapter drops it, moving what follows
    earlier): read by the adapter."""
    _base_edit(path)
    with aaf2.open(str(path), "rw") as aaf_file:
        v1 = _avid_slots(next(aaf_file.content.toplevel()))[0]
        a, filler, b, c, d = (_copy(aaf_file, item) for item in v1.segment.components)
        choices = aaf_file.create.EssenceGroup()
        choices.media_kind, choices.length = "picture", b.length
        choices["Choices"].value = [b]
        v1.segment["Components"].value = [a, filler, choices, c, d]


AVID_BUILDS = {
    "avid_features.aaf": _build_avid_features,
    "avid_time_effects.aaf": _build_avid_time_effects,
    "markers_on_master_slot_numbers.aaf": _build_markers_on_master_slot_numbers,
    "markers_at_2997.aaf": _build_markers_at_2997,
    "lone_segments.aaf": _build_lone_segments,
}
FALLBACK_BUILDS = {
    "two_segment_scope.aaf": _build_two_segment_scope,
    "essence_group_in_sequence.aaf": _build_essence_group_in_sequence,
}


@pytest.fixture(scope="module")
def avid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("avid")
    paths = {}
    for name, build in {**AVID_BUILDS, **FALLBACK_BUILDS}.items():
        build(folder / name)
        paths[name] = folder / name
    return paths


@pytest.mark.parametrize("name", sorted(AVID_BUILDS))
def test_avid_structures_read_natively_equal_the_adapter(
    name: str, avid_files: dict[str, Path], tmp_path: Path
) -> None:
    read_aaf(str(avid_files[name]), file=name)  # raises UnsupportedAAFStructure if not native
    _assert_same_as_adapter(avid_files[name], tmp_path)


def test_avid_features_are_placed_as_the_editor_sees_them(avid_files: dict[str, Path]) -> None:
    edit = read_aaf(str(avid_files["avid_features.aaf"]), file="avid_features.aaf")
    v1, v2, audio = edit.tracks
    a, filler, filters, take, muted = v1
    # Markers: in the clip's media time (sequence frame 5 of a clip starting at media 10).
    assert [(m.name, m.marked_range.start_time.value) for m in a.markers] == [
        ("a at 12", 12),
        ("a at 50", 50),
        ("foley: footsteps on gravel", 15),
    ]
    assert [m.name for m in audio.find_clips()[0].markers] == ["tone at 5"]
    assert [m.name for m in filler.markers] == ["on the gap"]
    assert [m.name for m in v1.markers] == ["past the end"]
    assert [m.name for m in edit.tracks.markers] == ["no such track"]
    assert [m.name for m in v2.find_clips()[0].markers] == ["in the scope"]
    assert [e.name for e in filters.effects] == ["Blur", "Color Correction"]
    assert (take.name, take.enabled, muted.name, muted.enabled) == ("c", True, "d", False)
    assert [e.name for e in audio.find_clips()[1].effects] == ["Mono Audio Gain"]
    spotted = {c.name: c for c in spot_clips(edit, source_name="avid_features.aaf")}
    assert spotted["a"].prompt == "footsteps on gravel"
    assert spotted["d"].status == ClipStatus.SKIPPED
    assert spotted["d"].reason.startswith("the clip is disabled")
    assert (spotted["b"].record_start_frame, spotted["b"].record_duration_frames) == (36, 30)
    assert (spotted["e"].record_start_frame, spotted["e"].record_duration_frames) == (20, 24)


def test_markers_on_master_slot_numbers_land_where_the_adapter_puts_them(
    avid_files: dict[str, Path],
) -> None:
    name = "markers_on_master_slot_numbers.aaf"
    edit = read_aaf(str(avid_files[name]), file=name)
    v1, v2 = edit.tracks[:2]
    assert all(not item.markers for item in v1)
    last = v2.find_clips()[-1]  # e: media 100, at record frame 20
    assert [(m.name, m.marked_range.start_time.value) for m in last.markers] == [
        ("at 5", 85),
        ("at 30", 110),
    ]


@pytest.mark.parametrize("name", sorted(FALLBACK_BUILDS))
def test_unmodelled_structures_are_read_by_the_adapter_with_a_log_line(
    name: str, avid_files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(UnsupportedAAFStructure) as raised:
        read_aaf(str(avid_files[name]), file=name)
    assert raised.value.file == name
    assert "composition " in raised.value.detail and "slot " in raised.value.detail
    with caplog.at_level(logging.INFO, logger="timeline.formats"):
        _assert_same_as_adapter(avid_files[name], tmp_path)
    assert any("OTIO's AAF adapter" in record.getMessage() for record in caplog.records)


def test_marker_colours_are_the_adapters() -> None:
    # Avid's RGB on a grid (16 bits a channel), a name OTIO knows, one it does not, none.
    steps = range(0, 65536, 4681)
    grid = [{"red": r, "green": g, "blue": b} for r in steps for g in steps for b in steps]
    colours = {marker_color(None, rgb) for rgb in grid}
    assert len(colours) >= 8, "the grid must reach most colours"
    for rgb in grid:
        assert marker_color(None, rgb) == adapter_module._convert_rgb_to_marker_color(rgb), rgb
    assert marker_color("Cyan", grid[5]) == otio.schema.MarkerColor.CYAN
    assert marker_color("Mauve", grid[0]) == otio.schema.MarkerColor.BLACK
    assert marker_color(None, None) == otio.schema.MarkerColor.RED


def test_a_generated_aaf_reads_as_the_adapter_reads_it(generated_aaf: Path, tmp_path: Path) -> None:
    read_aaf(str(generated_aaf), file="generated.aaf")
    ours = _assert_same_as_adapter(generated_aaf, tmp_path)
    assert [t.name for t in ours.tracks] == ["V1", "V2", "A1"]
    assert ours.global_start_time == rt(86400)
    assert [c.name for c in ours.tracks[1].find_clips()] == ["insert", "insert 2"]


def _foley_for(spotted: list[SpottedClip]) -> list[GeneratedAudio]:
    return [
        GeneratedAudio(c.clip_id, Path(f"/srv/foley/{i:03d}.wav"), {"prompt": "", "seed": 1})
        for i, c in enumerate(spotted)
        if c.status == ClipStatus.SPOTTED
    ]


def test_a_patched_result_reads_back_the_same_both_ways(
    generated_aaf: Path, tmp_path: Path
) -> None:
    loaded = read_timeline(generated_aaf)
    media = make_placeholder_media(loaded.timeline, tmp_path / "media")
    spotted = spot_clips(loaded.timeline, MediaMap(search_roots=(media,)))
    audio = _foley_for(spotted)
    assert len(audio) == 14
    document = result_document(loaded, spotted, audio, handles_frames=3)
    assert document.native
    assert aaf_fidelity(loaded.original, document.data).problems == ()
    result = tmp_path / "result.aaf"
    result.write_bytes(document.data)
    ours = _assert_same_as_adapter(result, tmp_path)
    foley = [t for t in ours.tracks if t.name.startswith("Foley V")]
    assert [t.name for t in foley] == ["Foley V1", "Foley V2"]
    placed = sorted(
        (
            round(c.range_in_parent().start_time.value),
            round(c.duration().value),
            c.source_range.start_time.value,
        )
        for t in foley
        for c in t.find_clips()
    )
    assert placed == sorted(
        (c.record_start_frame, c.record_duration_frames, 3)
        for c in spotted
        if c.status == ClipStatus.SPOTTED
    )


def test_a_truncated_aaf_is_a_malformed_timeline_naming_the_file(tmp_path: Path) -> None:
    data = (DATA / "transitions.aaf").read_bytes()
    with pytest.raises(MalformedTimeline) as raised:
        read_timeline(data[: len(data) // 3], source_name="cut.aaf")
    assert raised.value.file == "cut.aaf"


def test_an_aaf_without_a_composition_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clips_only.aaf"
    with aaf2.open(str(path), "w") as aaf_file:
        master = aaf_file.create.MasterMob("a clip")
        aaf_file.content.mobs.append(master)
    with pytest.raises(EmptyTimeline, match="no composition") as raised:
        read_timeline(path)
    assert raised.value.file == str(path)


NATIVE_SAMPLE = (DATA / "transitions.aaf").read_bytes()


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    """transitions.aaf (read natively) with bytes flipped or spans cut or repeated."""
    data = bytearray(NATIVE_SAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "repeat"]))
        if kind == "flip":
            data[position] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[position : position + draw(st.integers(1, 600))]
        else:
            end = position + draw(st.integers(1, 600))
            data[end:end] = data[position:end]
    return bytes(data)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_damaged())
def test_damaged_files_give_only_typed_errors(data: bytes) -> None:
    logging.disable(logging.WARNING)
    try:
        loaded = read_timeline(data, source_name="damaged.aaf")
        spot_clips(loaded.timeline, source_name="damaged.aaf")
    except TimelineError as error:
        assert error.file == "damaged.aaf"
    finally:
        logging.disable(logging.NOTSET)


def test_damaged_avid_structures_give_only_typed_errors(avid_files: dict[str, Path]) -> None:
    """The hand-built Avid file (markers, selectors, effects, scopes read through pyaaf2 as
    well as the compound file) with bytes flipped: read natively, by the adapter, or refused
    with a typed error naming the file."""
    original = avid_files["avid_features.aaf"].read_bytes()
    chooser = random.Random(12)
    outcomes = set()
    logging.disable(logging.WARNING)
    try:
        for _ in range(40):
            data = bytearray(original)
            for _ in range(chooser.randint(1, 6)):
                data[chooser.randrange(len(data))] = chooser.randrange(256)
            try:
                loaded = read_timeline(bytes(data), source_name="damaged.aaf")
                spot_clips(loaded.timeline, source_name="damaged.aaf")
                outcomes.add("read")
            except TimelineError as error:
                assert error.file == "damaged.aaf"
                outcomes.add(type(error).__name__)
    finally:
        logging.disable(logging.NOTSET)
    assert "read" in outcomes

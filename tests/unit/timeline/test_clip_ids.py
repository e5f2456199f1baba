"""Clip ids are stable: the same on every re-read, unchanged by edits elsewhere."""

from __future__ import annotations

import opentimelineio as otio
from timeline_builders import DATA, clip, gap, three_clip_timeline, track

from timeline.formats import read_timeline
from timeline.spotting import spot_clips


def ids_by_name(edit: otio.schema.Timeline) -> dict[str, str]:
    return {found.name: found.clip_id for found in spot_clips(edit)}


def test_ids_are_the_same_on_every_read_of_the_same_file():
    first = [c.clip_id for c in spot_clips(read_timeline(DATA / "premiere_example.xml").timeline)]
    again = [c.clip_id for c in spot_clips(read_timeline(DATA / "premiere_example.xml").timeline)]
    assert first == again
    assert len(set(first)) == len(first)


def test_ids_survive_a_ripple_edit_before_the_clip():
    before = ids_by_name(three_clip_timeline())
    edit = three_clip_timeline()
    edit.tracks[0].insert(0, clip("new", 500, 30))
    edit.tracks[0].insert(0, gap(7))
    after = ids_by_name(edit)
    assert {name: after[name] for name in before} == before


def test_ids_survive_a_new_track_below():
    before = ids_by_name(three_clip_timeline())
    edit = three_clip_timeline()
    edit.tracks.insert(0, track(clip("background", 0, 100), name="V0"))
    after = ids_by_name(edit)
    assert {name: after[name] for name in before} == before


def test_trimming_the_clip_changes_its_id_only():
    before = ids_by_name(three_clip_timeline())
    edit = three_clip_timeline()
    b = edit.tracks[0][2]
    b.source_range = otio.opentime.TimeRange(
        b.source_range.start_time, otio.opentime.RationalTime(9, 24)
    )
    after = ids_by_name(edit)
    assert after["B"] != before["B"]
    assert (after["A"], after["C"]) == (before["A"], before["C"])


def test_identical_clips_get_distinct_ids():
    edit = three_clip_timeline()
    edit.tracks[0].append(clip("A", 100, 10))
    ids = [found.clip_id for found in spot_clips(edit)]
    assert len(set(ids)) == len(ids) == 4

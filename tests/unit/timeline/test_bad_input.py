"""Bad timelines give a typed error naming the file and the clip; never a crash or a hang."""

from __future__ import annotations

import opentimelineio as otio
import pytest
from timeline_builders import clip, gap, rt, timeline, tr, track

from timeline.errors import InvalidRange, InvalidRate, TimelineError
from timeline.formats import read_timeline
from timeline.spotting import spot_clips


def as_file(edit: otio.schema.Timeline) -> bytes:
    return otio.adapters.write_to_string(edit).encode()


def spot_file(edit: otio.schema.Timeline, name: str = "cut.otio") -> None:
    loaded = read_timeline(as_file(edit), source_name=name)
    spot_clips(loaded.timeline, source_name=loaded.source_name)


def broken(name: str, source_range: otio.opentime.TimeRange) -> otio.schema.Clip:
    made = clip(name, 0, 10)
    made.source_range = source_range
    return made


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (broken("negative", tr(0, -5)), "negative duration"),
        (broken("zero", tr(0, 0)), "zero-length clip"),
        (broken("not a number", tr(float("nan"), 10)), "not a number"),
        (broken("endless", tr(0, 1e12)), "absurd"),
        (broken("far away", tr(1e15, 10)), "absurd"),
        (broken("no rate", otio.opentime.TimeRange(rt(0, 0), rt(10, 0))), "not a frame rate"),
        (broken("negative rate", tr(0, 10, -24)), "not a frame rate"),
    ],
)
def test_broken_clip_ranges_name_the_file_and_clip(bad: otio.schema.Clip, message: str):
    edit = timeline(track(clip("fine", 0, 10), bad))
    with pytest.raises((InvalidRange, InvalidRate)) as caught:
        spot_file(edit)
    assert message in str(caught.value)
    assert caught.value.file == "cut.otio"
    assert caught.value.clip == bad.name
    assert str(caught.value).startswith(f"cut.otio: clip {bad.name!r}: ")


def test_negative_gap_is_an_invalid_range():
    edit = timeline(track(clip("A", 0, 10), gap(-3), clip("B", 0, 10)))
    with pytest.raises(InvalidRange, match="negative duration"):
        spot_file(edit)


def test_negative_transition_offset_is_an_invalid_range():
    dissolve = otio.schema.Transition(name="mix", in_offset=rt(-2), out_offset=rt(2))
    edit = timeline(track(clip("A", 0, 10), dissolve, clip("B", 0, 10)))
    with pytest.raises(InvalidRange, match="negative transition in offset") as caught:
        spot_file(edit)
    assert caught.value.clip == "mix"


def test_clip_without_any_range_is_an_invalid_range():
    bare = otio.schema.Clip(name="bare", media_reference=otio.schema.ExternalReference("a.mov"))
    with pytest.raises(InvalidRange, match="length is unknown"):
        spot_file(timeline(track(clip("A", 0, 10), bare)))


def test_unusable_speed_is_an_invalid_range():
    fast = clip("fast", 0, 10, effects=[otio.schema.LinearTimeWarp(time_scalar=float("inf"))])
    with pytest.raises(InvalidRange, match="not a usable speed"):
        spot_file(timeline(track(fast)))


def test_timeline_rate_that_cannot_carry_timecode_is_refused_on_read():
    edit = timeline(track(clip("A", 0, 10, rate=12.345)))
    with pytest.raises(InvalidRate, match="cannot carry timecode") as caught:
        read_timeline(as_file(edit), source_name="odd.otio")
    assert caught.value.file == "odd.otio"


def test_negative_global_start_is_refused_on_read():
    edit = timeline(track(clip("A", 0, 10)), global_start=rt(-100))
    with pytest.raises(InvalidRange, match="global start"):
        read_timeline(as_file(edit), source_name="early.otio")


def test_every_error_is_a_timeline_error():
    for error_type in (InvalidRange, InvalidRate):
        assert issubclass(error_type, TimelineError)


def test_error_without_a_file_names_only_the_clip():
    edit = timeline(track(broken("zero", tr(0, 0))))
    with pytest.raises(InvalidRange) as caught:
        spot_clips(edit)
    assert caught.value.file is None
    assert str(caught.value).startswith("clip 'zero': ")

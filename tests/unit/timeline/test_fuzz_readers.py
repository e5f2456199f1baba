"""Fuzzing: mutated copies of the sample files only ever give this package's typed errors.

Each example mutates a real timeline (bytes flipped, a span cut or repeated, numbers replaced by
hostile values, OTIO schema names swapped), then runs the whole path a request takes: read,
spot, build the result and serialize it. Anything but a TimelineError fails the test; a crash
of OpenTimelineIO's C++ reader would take the test run down with it.
"""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from timeline_builders import DATA

from timeline.errors import TimelineError
from timeline.formats import read_timeline, result_format, timeline_to_bytes
from timeline.result import build_result
from timeline.spotting import spot_clips

HOSTILE_NUMBERS = [b"-1", b"0", b"-0", b"1e308", b"NaN", b"nan", b"Infinity", b"1e-9",
                   b"99999999999999", b"-86400", b"3.5", b"24:61:99:99"]  # fmt: skip
SCHEMAS = [b"Clip.1", b"Clip.2", b"Track.1", b"Stack.1", b"Timeline.1", b"Gap.1",
           b"Transition.1", b"SerializableCollection.1", b"ExternalReference.1",
           b"LinearTimeWarp.1", b"FreezeFrame.1", b"RationalTime.1", b"TimeRange.1",
           b"Composable.1", b"Item.1", b"Clip.1e-9", b"Nope.1"]  # fmt: skip
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?")
_SCHEMA = re.compile(rb'"OTIO_SCHEMA"\s*:\s*"([^"]*)"')

TEXT_SAMPLES = {
    name: (DATA / name).read_bytes()
    for name in (
        "hard_cases.otio",
        "transition.otio",
        "multitrack.otio",
        "hiero_xml_export.xml",
        "fcpx_clips.fcpxml",
        "two_projects.fcpxml",
        "speed_effects_small.edl",
        "dissolve_test.edl",
    )
}
AAF_SAMPLE = (DATA / "one_clip.aaf").read_bytes()


@st.composite
def mutated(draw: st.DrawFn, samples: dict[str, bytes]) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(samples)))
    data = bytearray(samples[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "repeat", "number", "schema"]))
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[position] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[position : position + draw(st.integers(1, 400))]
        elif kind == "repeat":
            end = position + draw(st.integers(1, 400))
            data[end:end] = data[position:end]
        else:
            pattern = _NUMBER if kind == "number" else _SCHEMA
            matches = list(pattern.finditer(data))
            if matches:
                match = matches[draw(st.integers(0, len(matches) - 1))]
                group = 0 if kind == "number" else 1
                choices = HOSTILE_NUMBERS if kind == "number" else SCHEMAS
                data[match.start(group) : match.end(group)] = draw(st.sampled_from(choices))
        if not data:
            break
    return name, bytes(data)


def run_request(name: str, data: bytes) -> None:
    """What a request does with an upload; only TimelineError may come out."""
    try:
        loaded = read_timeline(data, source_name=name)
        spotted = spot_clips(loaded.timeline, source_name=name)
        target, _ = result_format(loaded.format)
        timeline_to_bytes(build_result(loaded.timeline, spotted, [], target_format=target), target)
    except TimelineError as error:
        assert str(error), "typed errors carry a message"


@pytest.fixture(autouse=True)
def quiet_adapters():
    # The AAF adapter logs a warning per damaged property; thousands of lines help nobody.
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated(TEXT_SAMPLES))
def test_mutated_text_timelines_give_only_typed_errors(sample: tuple[str, bytes]):
    run_request(*sample)


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated({"one_clip.aaf": AAF_SAMPLE}))
def test_mutated_aaf_gives_only_typed_errors(sample: tuple[str, bytes]):
    run_request(*sample)


def test_known_crashers_of_opentimelineio_are_refused():
    """Inputs that made OpenTimelineIO 0.18 segfault, found by this fuzzer."""
    clip = (DATA / "hard_cases.otio").read_text()
    old_schema = clip.replace('"Clip.2"', '"Clip.1e-9"', 1).encode()
    duplicate = b'{"OTIO_SCHEMA": "Track.1", "kind": "Video", "children": [], "children": []}'
    for data in (old_schema, duplicate):
        with pytest.raises(TimelineError):
            read_timeline(data)

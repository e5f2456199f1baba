"""Frame rates snap to exact rationals; timecode matches SMPTE (checked against OTIO)."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest

from timeline.errors import InvalidRate
from timeline.rates import (
    can_carry_timecode,
    exact_rate,
    format_rate,
    frames_to_timecode,
    supports_drop_frame,
)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (24.0, Fraction(24)),
        (23.976, Fraction(24000, 1001)),
        (24000 / 1001, Fraction(24000, 1001)),
        (29.97, Fraction(30000, 1001)),
        (30000 / 1001, Fraction(30000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (25.0000000001, Fraction(25)),
        (12.5, Fraction(25, 2)),
    ],
)
def test_rates_snap_to_the_exact_rational_an_editor_means(rate: float, expected: Fraction):
    assert exact_rate(rate) == expected


@pytest.mark.parametrize("rate", [0.0, -24.0, float("nan"), float("inf"), 5000.0])
def test_impossible_rates_raise_invalid_rate(rate: float):
    with pytest.raises(InvalidRate, match="not a frame rate"):
        exact_rate(rate)


def test_only_whole_and_ntsc_rates_carry_timecode():
    assert can_carry_timecode(Fraction(25))
    assert can_carry_timecode(Fraction(24000, 1001))
    assert not can_carry_timecode(Fraction(25, 2))
    assert supports_drop_frame(Fraction(30000, 1001))
    assert supports_drop_frame(Fraction(60000, 1001))
    assert not supports_drop_frame(Fraction(24000, 1001))
    assert not supports_drop_frame(Fraction(30))


def test_drop_frame_timecode_skips_two_labels_per_minute_except_tenth():
    rate = Fraction(30000, 1001)
    assert frames_to_timecode(1799, rate, drop_frame=True) == "00:00:59;29"
    assert frames_to_timecode(1800, rate, drop_frame=True) == "00:01:00;02"
    assert frames_to_timecode(17982, rate, drop_frame=True) == "00:10:00;00"
    assert frames_to_timecode(539460, rate, drop_frame=True) == "05:00:00;00"


@pytest.mark.parametrize(
    ("rate", "drop"),
    [(30000 / 1001, True), (60000 / 1001, True), (24000 / 1001, False), (25, False)],
)
def test_timecode_agrees_with_opentimelineio(rate: float, drop: bool):
    exact = exact_rate(rate)
    for frame in (0, 1, 1799, 1800, 1801, 17981, 17982, 107892, 2_000_003):
        ours = frames_to_timecode(frame, exact, drop_frame=drop)
        theirs = otio.opentime.to_timecode(otio.opentime.RationalTime(frame, rate), rate, drop)
        assert ours == theirs, frame


def test_rate_that_cannot_carry_timecode_is_refused():
    with pytest.raises(InvalidRate, match="cannot carry timecode"):
        frames_to_timecode(10, Fraction(25, 2))


def test_rates_format_exactly():
    assert format_rate(Fraction(24)) == "24"
    assert format_rate(Fraction(30000, 1001)) == "30000/1001"

"""Frame rates as exact fractions, and SMPTE timecode.

OTIO stores rates as doubles (29.97002997..., sometimes a literal 23.976). Every rate that
enters this package is snapped once to the exact rational an editor means: integers, or the
NTSC family n*1000/1001 (24000/1001, 30000/1001, 60000/1001, ...). Drop-frame timecode exists
only for the NTSC rates whose nominal rate is a multiple of 30 (29.97, 59.94, 119.88).
"""

from __future__ import annotations

import math
from fractions import Fraction

from timeline.errors import InvalidRate

# A double read back from a file may be off in its last digits; an NTSC rate written with three
# decimals (23.976) is off by 2.4e-5. Both tolerances sit far below the gap between real rates.
_INTEGER_TOLERANCE = 1e-6
_NTSC_TOLERANCE = 1e-3
_MIN_RATE = 0.1  # OTIO times in seconds use rate 1; anything far slower is damage
_MAX_RATE = 1000.0


def exact_rate(rate: float, *, what: str = "rate") -> Fraction:
    """Snap a float frame rate (frames per second) to the exact rational it stands for.

    Raises InvalidRate for rates that are not finite or outside 0.1-1000 fps.
    """
    if not math.isfinite(rate) or not _MIN_RATE <= rate <= _MAX_RATE:
        raise InvalidRate(f"{what} {rate!r} is not a frame rate (must be between 0.1 and 1000 fps)")
    nearest = round(rate)
    if nearest > 0 and abs(rate - nearest) <= _INTEGER_TOLERANCE * nearest:
        return Fraction(nearest)
    ntsc_base = round(rate * 1001 / 1000)
    if ntsc_base > 0 and abs(rate - ntsc_base * 1000 / 1001) <= _NTSC_TOLERANCE:
        return Fraction(ntsc_base * 1000, 1001)
    return Fraction(rate).limit_denominator(1001)


def nominal_rate(rate: Fraction) -> int | None:
    """Frames counted per timecode second at `rate` (24 for 24000/1001), or None if it has none."""
    if rate.denominator == 1:
        return rate.numerator
    if rate.denominator == 1001 and rate.numerator % 1000 == 0:
        return rate.numerator // 1000
    return None


def can_carry_timecode(rate: Fraction) -> bool:
    return nominal_rate(rate) is not None


def supports_drop_frame(rate: Fraction) -> bool:
    nominal = nominal_rate(rate)
    return rate.denominator == 1001 and nominal is not None and nominal % 30 == 0


def check_timecode_rate(rate: Fraction, *, what: str = "timeline rate") -> int:
    """Return the nominal rate, or raise InvalidRate naming why `rate` cannot carry timecode."""
    nominal = nominal_rate(rate)
    if nominal is None:
        raise InvalidRate(
            f"{what} {rate} fps ({float(rate):.6g}) cannot carry timecode: use a whole rate "
            "(24, 25, 30, ...) or an NTSC rate (23.976, 29.97, 59.94)"
        )
    return nominal


class TimecodeClock:
    """Formats frame counts as timecode at one rate; the rate is checked once, here."""

    __slots__ = ("_dropped", "_nominal", "_per_minute", "_per_ten_minutes", "_separator")

    def __init__(self, rate: Fraction, *, drop_frame: bool = False) -> None:
        self._nominal = check_timecode_rate(rate)
        drop = drop_frame and supports_drop_frame(rate)
        self._separator = ";" if drop else ":"
        self._dropped = self._nominal // 15 if drop else 0  # 2 labels a minute at 29.97
        self._per_minute = self._nominal * 60 - self._dropped
        self._per_ten_minutes = self._nominal * 600 - self._dropped * 9

    def timecode(self, frames: int) -> str:
        """HH:MM:SS:FF (HH:MM:SS;FF drop frame) of `frames` from 00:00:00:00; hours wrap at 24."""
        if frames < 0:
            raise ValueError(f"timecode of a negative frame count {frames}")
        if self._dropped:
            frames = self._labelled(frames)
        total_seconds, ff = divmod(frames, self._nominal)
        total_minutes, ss = divmod(total_seconds, 60)
        hours, mm = divmod(total_minutes, 60)
        return f"{hours % 24:02d}:{mm:02d}:{ss:02d}{self._separator}{ff:02d}"

    def _labelled(self, frames: int) -> int:
        """The count a drop-frame clock shows: labels skipped every minute but each tenth."""
        tens, remainder = divmod(frames, self._per_ten_minutes)
        extra = self._dropped * 9 * tens
        if remainder >= self._dropped:
            extra += self._dropped * ((remainder - self._dropped) // self._per_minute)
        return frames + extra


def frames_to_timecode(frames: int, rate: Fraction, *, drop_frame: bool = False) -> str:
    """Format a frame count from 00:00:00:00 as HH:MM:SS:FF (HH:MM:SS;FF when drop frame).

    Hours wrap at 24 as on a timecode clock. Raises InvalidRate if `rate` cannot carry timecode.
    """
    return TimecodeClock(rate, drop_frame=drop_frame).timecode(frames)


def format_rate(rate: Fraction) -> str:
    """`24`, `30000/1001`: the exact rate as text, for JSON and messages."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"

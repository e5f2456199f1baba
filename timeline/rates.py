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
_MAX_RATE = 1000.0


def exact_rate(rate: float, *, what: str = "rate") -> Fraction:
    """Snap a float frame rate (frames per second) to the exact rational it stands for.

    Raises InvalidRate for rates that are not positive and finite or beyond 1000 fps.
    """
    if not math.isfinite(rate) or rate <= 0 or rate > _MAX_RATE:
        raise InvalidRate(f"{what} {rate!r} is not a frame rate (must be between 0 and 1000 fps)")
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


def frames_to_timecode(frames: int, rate: Fraction, *, drop_frame: bool = False) -> str:
    """Format a frame count from 00:00:00:00 as HH:MM:SS:FF (HH:MM:SS;FF when drop frame).

    Hours wrap at 24 as on a timecode clock. Raises InvalidRate if `rate` cannot carry timecode.
    """
    nominal = check_timecode_rate(rate)
    if frames < 0:
        raise ValueError(f"timecode of a negative frame count {frames}")
    separator = ":"
    if drop_frame and supports_drop_frame(rate):
        separator = ";"
        frames = _drop_frame_counted(frames, nominal)
    total_seconds, ff = divmod(frames, nominal)
    total_minutes, ss = divmod(total_seconds, 60)
    hours, mm = divmod(total_minutes, 60)
    return f"{hours % 24:02d}:{mm:02d}:{ss:02d}{separator}{ff:02d}"


def _drop_frame_counted(frames: int, nominal: int) -> int:
    """Map a real frame count to the count a drop-frame clock shows (labels skipped per minute)."""
    dropped = nominal // 15  # 2 labels per minute at 29.97, 4 at 59.94
    per_minute = nominal * 60 - dropped
    per_ten_minutes = nominal * 600 - dropped * 9
    tens, remainder = divmod(frames, per_ten_minutes)
    extra = dropped * 9 * tens
    if remainder >= dropped:
        extra += dropped * ((remainder - dropped) // per_minute)
    return frames + extra


def format_rate(rate: Fraction) -> str:
    """`24`, `30000/1001`: the exact rate as text, for JSON and messages."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"

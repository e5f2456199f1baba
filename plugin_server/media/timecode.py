"""SMPTE timecode strings as media files store them ("01:00:00:00", drop frame "00:59:59;28").

A timecode counts frames at a nominal integer rate (30 for 29.97 fps); drop-frame timecode skips
labels 00 and 01 (two per 30 frames of nominal rate) at every minute except each tenth, so that
its labels stay close to wall-clock time at 30000/1001 fps.
"""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def parse_timecode(timecode: str, rate: Fraction) -> int:
    """Frame number (frames since 00:00:00:00) of `timecode` at `rate` frames per second.

    A ';', '.' or ',' before the frames field marks drop-frame counting, valid only for rates
    whose nominal rate is a multiple of 30. Raises ValueError naming the timecode when it is
    malformed or its frames field is not below the nominal rate.
    """
    match = _TIMECODE.match(timecode.strip())
    if match is None:
        raise ValueError(f"timecode {timecode!r} is not HH:MM:SS:FF (or HH:MM:SS;FF drop frame)")
    hours, minutes, seconds, separator, frames = match.groups()
    nominal = round(rate)
    if nominal <= 0:
        raise ValueError(f"timecode {timecode!r}: frame rate {rate} is not positive")
    h, m, s, f = int(hours), int(minutes), int(seconds), int(frames)
    if m >= 60 or s >= 60 or f >= nominal:
        raise ValueError(f"timecode {timecode!r} has a field out of range at {nominal} fps")
    frame_number = ((h * 60 + m) * 60 + s) * nominal + f
    if separator != ":":
        if nominal % 30 != 0:
            raise ValueError(f"timecode {timecode!r} is drop frame but the rate is {rate} fps")
        dropped_per_minute = 2 * (nominal // 30)
        total_minutes = h * 60 + m
        frame_number -= dropped_per_minute * (total_minutes - total_minutes // 10)
    return frame_number


def is_drop_frame(timecode: str) -> bool:
    """Whether `timecode` uses drop-frame counting (';', '.' or ',' before the frames)."""
    match = _TIMECODE.match(timecode.strip())
    return match is not None and match.group(4) != ":"

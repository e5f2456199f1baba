"""What a CMX 3600 EDL does not say outright: its frame rate.

An EDL carries timecodes but no rate; the CMX reader assumes 24 fps unless told. Reading a 25 or
29.97 fps EDL at 24 fails on frames 24-29 or misplaces every event, so the rate is inferred:
`FCM: DROP FRAME` (or `;` separators) means 29.97 drop frame; otherwise the highest frame
number seen decides (24 -> 25 fps; 25-29 -> 29.97 with an FCM line, which only NTSC EDLs need,
else 30; 30 and above -> 50 or 60). Short EDLs can be ambiguous: pass the rate when it is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FCM = re.compile(r"^\s*FCM\s*:\s*(NON[\s-]*DROP|DROP)", re.MULTILINE | re.IGNORECASE)
_TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2}([:;.,])(\d{2})\b")
NTSC_VIDEO = 30000 / 1001


@dataclass(frozen=True)
class EdlClock:
    rate: float  # frames per second to read the EDL at
    drop_frame: bool | None  # as the FCM line or separators say; None when they say nothing
    inferred: bool  # True when the rate was guessed from the frame numbers


def edl_clock(text: str, rate: float | None = None) -> EdlClock:
    """The rate and drop-frame mode to read `text` with (`rate` wins when given)."""
    fcm = _FCM.search(text)
    drop = None if fcm is None else not fcm.group(1).upper().startswith("NON")
    frames = [(separator, int(ff)) for separator, ff in _TIMECODE.findall(text)]
    if any(separator in ";," for separator, _ in frames):
        drop = True
    if rate is not None:
        return EdlClock(rate, drop, inferred=False)
    if drop:
        return EdlClock(NTSC_VIDEO, True, inferred=True)
    highest = max((ff for _, ff in frames), default=0)
    if highest >= 50:
        guess = 60.0
    elif highest >= 30:
        guess = 50.0
    elif highest >= 25:
        guess = NTSC_VIDEO if fcm is not None else 30.0
    elif highest == 24:
        guess = 25.0
    else:
        guess = 24.0
    return EdlClock(guess, drop, inferred=guess != 24.0)

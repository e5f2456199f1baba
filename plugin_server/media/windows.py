"""Windows over a clip: handles around a media range, overlapping generation windows, and
equal-power crossfades to join them.

Equal-power means the fade-out gain is cos(pi/2 * x) and the fade-in gain sin(pi/2 * x), with
x = (j + 0.5) / fade_samples at sample j of the fade: the squared gains sum to 1 at every
sample, so two uncorrelated signals (two independently generated windows) keep a constant
power through the join. Identical signals would rise by up to 3 dB in the middle; use a linear
fade for those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from plugin_server.media.errors import InvalidRange


@dataclass(frozen=True)
class WindowRange:
    """[start_s, end_s] in media seconds, with the handle actually available on each side
    (less than asked where the media starts or ends)."""

    start_s: float
    end_s: float
    head_s: float
    tail_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class AudioWindow:
    """One generation window of a longer clip, in samples from the clip's start."""

    index: int
    start_sample: int
    num_samples: int
    sample_rate: int

    @property
    def end_sample(self) -> int:
        return self.start_sample + self.num_samples

    @property
    def start_s(self) -> float:
        return self.start_sample / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.end_sample / self.sample_rate


def window_range(
    start_s: float,
    end_s: float,
    handle_s: float,
    *,
    media_start_s: float = 0.0,
    media_end_s: float | None = None,
) -> WindowRange:
    """[start_s - handle_s, end_s + handle_s], clamped to [media_start_s, media_end_s].

    Raises InvalidRange for an empty or inverted range, a negative handle or non-finite values.
    """
    values = (start_s, end_s, handle_s, media_start_s) + (
        () if media_end_s is None else (media_end_s,)
    )
    if not all(math.isfinite(value) for value in values):
        raise InvalidRange(f"window [{start_s}, {end_s}] +/- {handle_s}: values must be finite")
    if end_s <= start_s:
        raise InvalidRange(f"window [{start_s}, {end_s}] is empty: end must be after start")
    if handle_s < 0:
        raise InvalidRange(f"window handle {handle_s}s must not be negative")
    lower = max(media_start_s, start_s - handle_s)
    upper = end_s + handle_s if media_end_s is None else min(media_end_s, end_s + handle_s)
    lower, upper = min(lower, start_s), max(upper, end_s)
    return WindowRange(lower, upper, start_s - lower, upper - end_s)


def plan_windows(
    duration_s: float, window_s: float, overlap_s: float, sample_rate: int = 48_000
) -> tuple[AudioWindow, ...]:
    """Cover `duration_s` with windows of `window_s` (the last ones no longer than the clip)
    overlapping by at least `overlap_s`, evenly spaced, starts rounded to whole samples.

    A clip no longer than one window is one window of exactly its length. The first window
    starts at sample 0 and the last ends at round(duration_s * sample_rate).
    """
    total = round(duration_s * sample_rate)
    length = round(window_s * sample_rate)
    overlap = round(overlap_s * sample_rate)
    if total <= 0:
        raise InvalidRange(f"cannot plan windows over a {duration_s}s clip: it is empty")
    if length <= 0 or not 0 <= overlap < length:
        raise InvalidRange(
            f"windows of {window_s}s overlapping by {overlap_s}s: the window must be positive "
            "and longer than its overlap"
        )
    if total <= length:
        return (AudioWindow(0, 0, total, sample_rate),)
    count = math.ceil((total - overlap) / (length - overlap))
    span = total - length
    return tuple(
        AudioWindow(i, round(span * i / (count - 1)), length, sample_rate) for i in range(count)
    )


def equal_power_gains(fade_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) gains, float64 [fade_samples] each; fade_out**2 + fade_in**2 == 1."""
    if fade_samples < 0:
        raise InvalidRange(f"crossfade length {fade_samples} samples must not be negative")
    x = (np.arange(fade_samples) + 0.5) / max(fade_samples, 1)
    return np.cos(0.5 * np.pi * x), np.sin(0.5 * np.pi * x)


def equal_power_crossfade(a: np.ndarray, b: np.ndarray, fade_samples: int) -> np.ndarray:
    """`a` then `b`, the last `fade_samples` of `a` crossfaded with the first of `b`.

    Mono float arrays [n]; the result has len(a) + len(b) - fade_samples samples, in a's dtype
    promoted with b's.
    """
    if fade_samples > min(len(a), len(b)):
        raise InvalidRange(
            f"crossfade of {fade_samples} samples is longer than a piece "
            f"({len(a)} and {len(b)} samples)"
        )
    fade_out, fade_in = equal_power_gains(fade_samples)
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    out = np.empty(len(a) + len(b) - fade_samples, dtype=dtype)
    cut = len(a) - fade_samples
    out[:cut] = a[:cut]
    out[cut : len(a)] = a[cut:] * fade_out + b[:fade_samples] * fade_in
    out[len(a) :] = b[fade_samples:]
    return out


def join_windows(
    pieces: Sequence[np.ndarray], windows: Sequence[AudioWindow], fade_samples: int
) -> np.ndarray:
    """Join generated windows into one clip, float32 [windows[-1].end_sample].

    Piece i holds windows[i].num_samples samples placed at windows[i].start_sample. Each join
    is an equal-power crossfade of `fade_samples` centred in the overlap of the two windows;
    outside the crossfades each sample comes from exactly one window.
    """
    if len(pieces) != len(windows) or not pieces:
        raise InvalidRange(f"{len(pieces)} audio pieces for {len(windows)} windows")
    for piece, window in zip(pieces, windows, strict=True):
        if piece.ndim != 1 or piece.shape[0] != window.num_samples:
            raise InvalidRange(
                f"window {window.index} expects {window.num_samples} samples, got shape "
                f"{piece.shape}"
            )
    out = np.zeros(windows[-1].end_sample, dtype=np.float32)
    fade_out, fade_in = equal_power_gains(fade_samples)
    # Cut points: each join's crossfade starts at `cut`, centred in the windows' overlap.
    cuts = []
    for previous, following in pairwise(windows):
        overlap = previous.end_sample - following.start_sample
        if overlap < fade_samples:
            raise InvalidRange(
                f"windows {previous.index} and {following.index} overlap by {overlap} samples, "
                f"less than the {fade_samples}-sample crossfade"
            )
        cuts.append(following.start_sample + (overlap - fade_samples) // 2)
    starts = [0, *(cut + fade_samples for cut in cuts)]
    ends = [*cuts, windows[-1].end_sample]
    for i, (piece, window) in enumerate(zip(pieces, windows, strict=True)):
        # The part this window owns alone.
        out[starts[i] : ends[i]] = piece[
            starts[i] - window.start_sample : ends[i] - window.start_sample
        ]
        if i + 1 < len(windows):
            cut, following = cuts[i], windows[i + 1]
            tail = piece[cut - window.start_sample : cut - window.start_sample + fade_samples]
            head = pieces[i + 1][
                cut - following.start_sample : cut - following.start_sample + fade_samples
            ]
            out[cut : cut + fade_samples] = tail * fade_out + head * fade_in
    return out

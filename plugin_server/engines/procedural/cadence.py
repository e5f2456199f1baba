"""The source's picture cadence, recovered from when pictures first appear at the analysis rate.

Frames are asked for at a fixed analysis rate (60 fps), so a source picture shown at record
time tau is first seen at the first analysis frame at or after it: t in [tau - tol, tau + step),
where step is one analysis frame and tol the decoder's selection tolerance (at most 1 ms). An
event seen at t would sound up to one analysis frame late (17 ms; more than half a frame of a
50 fps source). But the pictures of a steady source sit on a regular grid tau = phase + n *
period in record time, and every picture that appears narrows down where that grid can be: a
standard rate whose grid fits every appearance is the source's cadence, and each event is then
put back on the presentation time of its picture, the latest grid point at or before it.

Rates tried are the usual ones in record time (a 24 fps source at double speed is 48 pictures a
second). When none fits (a variable frame rate, an odd retime), times stay as seen: at most one
analysis frame late, never early.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

NTSC = Fraction(1000, 1001)
# Pictures per second in record time: the common source rates, their NTSC variants, and the
# common retimes of them (half and double speed).
STANDARD_RATES: tuple[Fraction, ...] = tuple(
    sorted(
        {
            Fraction(rate) * factor
            for rate in (12, 15, 24, 25, 30, 48, 50, 60, 96, 100, 120)
            for factor in (Fraction(1), NTSC)
        }
        | {Fraction(25, 2), Fraction(24, 2) * NTSC}
    )
)
SELECTION_TOLERANCE_S = 1e-3  # a decoder may serve a picture up to 1 ms before its time
_MIN_PICTURES = 6
_HEAD = 48
_SAMPLE = 720
_BLOCK = 64


@dataclass(frozen=True)
class Cadence:
    """A regular grid of picture times, record seconds: phase_s + n * period_s."""

    rate: Fraction
    phase_s: float
    slack_s: float  # how far the phase could move and still fit every picture

    @property
    def period_s(self) -> float:
        return float(1 / self.rate)

    def presentation_times(self, seen_s: np.ndarray) -> np.ndarray:
        """Presentation times of the pictures seen at `seen_s` [K]: the latest grid point at or
        before each (within the selection tolerance)."""
        period = self.period_s
        steps = np.floor((np.asarray(seen_s) - self.phase_s + SELECTION_TOLERANCE_S) / period)
        return self.phase_s + steps * period


def fit_cadence(appear_s: np.ndarray, step_s: float) -> Cadence | None:
    """The slowest standard rate whose grid fits every appearance time in `appear_s` [N]
    (record seconds at which a new picture was first seen on an analysis grid of `step_s`);
    None when there are too few pictures or nothing fits.

    A rate fits when one phase puts a grid point in [t - step_s, t + tol] for every t; of
    rates that fit, the slowest wins (twice a source's rate fits too, trivially), and of near
    rates (23.976 and 24 over a short clip) the one that fits with more room."""
    times = np.asarray(appear_s, dtype=np.float64)
    if len(times) < _MIN_PICTURES:
        return None
    # Rates are ruled out cheaply on the first pictures, then on a sample of the clip; the
    # phase found is finally checked against every picture.
    head = times[:_HEAD]
    sample = times[np.linspace(0, len(times) - 1, min(len(times), _SAMPLE)).astype(int)]
    fits: list[Cadence] = []
    for rate in STANDARD_RATES:  # slowest first
        period = float(1 / rate)
        if period <= step_s + SELECTION_TOLERANCE_S:
            break  # every picture is seen on its own analysis frame: nothing to recover
        if fits and fits[0].period_s > 1.011 * period:
            break
        if _phase(head, period, step_s) is None:
            continue
        found = _phase(sample, period, step_s)
        if found is None or _latest_lateness(times, period, found[0]) > step_s + 1e-9:
            continue
        fits.append(Cadence(rate=rate, phase_s=found[0], slack_s=found[1]))
    if not fits:
        return None
    return max(fits, key=lambda fit: fit.slack_s)


def _lateness(times: np.ndarray, period: float, phase: np.ndarray) -> np.ndarray:
    """How long after the latest grid point (tolerance included) each picture was seen:
    [len(phase), len(times)] seconds; a fit needs all of them <= step + tolerance."""
    shifted = times[None, :] + SELECTION_TOLERANCE_S - phase[:, None] + 1e-9
    return np.mod(shifted, period) - 1e-9


def _latest_lateness(times: np.ndarray, period: float, phase: float) -> float:
    return float(_lateness(times, period, np.asarray([phase])).max()) - SELECTION_TOLERANCE_S


def _phase(times: np.ndarray, period: float, step_s: float) -> tuple[float, float] | None:
    """(best phase in [0, period), room it has) or None when no phase fits every picture.

    The phases that fit form an arc whose latest end is a picture's own time plus the
    tolerance, so those are the candidates. Of the arc, the phase taken is its latest end less
    the tolerance (a picture served exactly on time), or its earliest end if that is later."""
    limit = step_s + SELECTION_TOLERANCE_S + 1e-9
    # Rounded (to merge pictures at the same spot of the grid), then nudged early so that
    # rounding never puts a candidate just after the picture that defines it.
    candidates = np.unique(np.round(np.mod(times + SELECTION_TOLERANCE_S, period), 7)) - 2e-7
    for start in range(0, len(candidates), _BLOCK):
        block = candidates[start : start + _BLOCK]
        late = _lateness(times, period, block)
        # Each picture sits on its own grid point: two pictures on one point would mean the
        # grid is too coarse for the source.
        points = np.floor((times[None, :] - late + SELECTION_TOLERANCE_S) / period + 0.5)
        distinct = (np.diff(points, axis=1) > 0).all(axis=1)
        fits = (late.max(axis=1) <= limit) & distinct
        if fits.any():
            index = int(np.argmax(fits))
            latest = float(block[index]) + float(late[index].min())
            earliest = float(block[index]) + float(late[index].max()) - limit
            phase = max(latest - SELECTION_TOLERANCE_S, earliest)
            return phase % period, latest - earliest
    return None

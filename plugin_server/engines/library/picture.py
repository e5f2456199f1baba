"""The picture's events and motion, from the procedural engine's analysis.

A thin adapter: the library engine uses the procedural engine's public analysis
(`analyse_motion`, `cues_from_analysis`) and sees only this module's record, so a change of
those interfaces is absorbed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from plugin_server.engines.base import ClipRequest
from plugin_server.engines.procedural.analysis import MotionAnalysis, analyse_motion
from plugin_server.engines.procedural.cues import cues_from_analysis
from plugin_server.engines.procedural.synthesis import stream_for

# Without a picture, one-shots fall on a cadence of their own (a walking pace).
_CADENCE_S = 0.55


@dataclass(frozen=True)
class PictureCues:
    """`event_samples` int64 [K] ascending, `event_strengths` float32 [K] in (0, 1],
    `intensity` float32 [num_samples] motion intensity 0..1 at audio rate."""

    has_picture: bool
    onset_count: int
    event_samples: np.ndarray
    event_strengths: np.ndarray
    intensity: np.ndarray


def picture_cues(
    request: ClipRequest,
    *,
    check_cancel: Callable[[], None],
    report: Callable[[float], None],
) -> PictureCues:
    """Analyse the request's frames (if any) into events and an intensity envelope."""
    if request.frames is None:
        analysis = MotionAnalysis.without_picture(request.duration_s)
    else:
        analysis = analyse_motion(
            request.frames,
            request.duration_s,
            clip_id=request.clip_id,
            check_cancel=check_cancel,
            report=report,
        )
    cues = cues_from_analysis(
        analysis,
        sample_rate=request.sample_rate,
        num_samples=request.num_samples,
        material="default",
        rng=stream_for(request.seed, request.clip_id, "library:cues"),
    )
    samples, strengths = cues.events(
        stream_for(request.seed, request.clip_id, "library:cadence"), _CADENCE_S
    )
    return PictureCues(
        has_picture=analysis.has_picture,
        onset_count=len(analysis.onsets.times_s),
        event_samples=np.asarray(samples, np.int64),
        event_strengths=np.asarray(strengths, np.float32),
        intensity=cues.intensity_envelope(),
    )

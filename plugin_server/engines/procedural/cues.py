"""Cues: the picture analysis turned into what recipes need, on the audio's own clock.

Recipes never see frames. They get event positions in samples (where a sound must start),
event strengths, and a motion-intensity envelope at control rate (`CONTROL_RATE_HZ`), plus the
prompt's surface material. A clip without picture gets no events and a gently wandering
medium intensity, and each event recipe falls back to a plausible cadence of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugin_server.engines.procedural.analysis import MotionAnalysis
from plugin_server.engines.procedural.dsp import (
    CONTROL_RATE_HZ,
    one_pole_lowpass,
    smooth_random,
    upsample_control,
)

# Intensity smoothing: motion is measured per frame, sound beds should swell, not step.
_INTENSITY_SMOOTHING_HZ = 6.0


@dataclass(frozen=True)
class Cues:
    """What every recipe renders from.

    `event_samples` int64 [K] ascending sample positions of visual events, `event_strengths`
    float32 [K] in (0, 1]. `intensity` float32 [ceil(num_samples / hop) + 1] motion intensity
    in 0..1, one value per `hop` samples (value i at sample i * hop).
    """

    sample_rate: int
    num_samples: int
    event_samples: np.ndarray
    event_strengths: np.ndarray
    intensity: np.ndarray
    hop: int
    has_picture: bool
    material: str

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    @property
    def control_rate(self) -> float:
        return self.sample_rate / self.hop

    def intensity_envelope(self) -> np.ndarray:
        """Motion intensity at audio rate: float32 [num_samples] in 0..1."""
        return upsample_control(self.intensity, self.hop, self.num_samples)

    def events(
        self, rng: np.random.Generator, period_s: float, jitter: float = 0.1, first_s: float = 0.3
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sample positions, strengths) of this clip's events.

        With a picture: its visual events. Without: a cadence of one event every `period_s`
        (each interval varied by +-`jitter`, a fraction), starting `first_s` in, with
        strengths between 0.6 and 1.
        """
        if self.has_picture:
            return self.event_samples, self.event_strengths
        positions: list[int] = []
        time_s = first_s
        while time_s < self.duration_s:
            positions.append(round(time_s * self.sample_rate))
            time_s += period_s * (1.0 + jitter * float(rng.uniform(-1.0, 1.0)))
        strengths = rng.uniform(0.6, 1.0, len(positions)).astype(np.float32)
        return np.asarray(positions, dtype=np.int64), strengths


def cues_from_analysis(
    analysis: MotionAnalysis,
    *,
    sample_rate: int,
    num_samples: int,
    material: str,
    rng: np.random.Generator,
) -> Cues:
    """Cues for `num_samples` samples; onsets at or past the end are dropped."""
    hop = max(1, round(sample_rate / CONTROL_RATE_HZ))
    control_count = -(-num_samples // hop) + 1
    control_rate = sample_rate / hop
    if analysis.has_picture:
        times = np.arange(control_count) / control_rate
        # A frame's intensity is the motion that arrived with it; hold it until the next one.
        index = np.searchsorted(analysis.frame_times_s, times, side="right") - 1
        raw = analysis.intensity[np.clip(index, 0, None)]
        raw[index < 0] = 0.0
        intensity = np.clip(one_pole_lowpass(raw, _INTENSITY_SMOOTHING_HZ, int(control_rate)), 0, 1)
        samples = np.round(analysis.onsets.times_s * sample_rate).astype(np.int64)
        keep = samples < num_samples
        events, strengths = samples[keep], analysis.onsets.strengths[keep]
    else:
        wander = smooth_random(rng, control_count, 0.15, control_rate)
        intensity = np.clip(0.45 + 0.15 * wander, 0.1, 0.8).astype(np.float32)
        events = np.zeros(0, np.int64)
        strengths = np.zeros(0, np.float32)
    return Cues(
        sample_rate=sample_rate,
        num_samples=num_samples,
        event_samples=events,
        event_strengths=strengths.astype(np.float32),
        intensity=intensity.astype(np.float32),
        hop=hop,
        has_picture=analysis.has_picture,
        material=material,
    )

"""Plain records of the training data: where each pair's picture and Foley come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from plugin_server.media.frames import MediaSpan


@dataclass(frozen=True)
class AudioSpan:
    """Seconds [start_s, start_s + duration_s) of an audio file, from its first sample."""

    path: Path
    start_s: float
    duration_s: float


@dataclass(frozen=True)
class TrainingPair:
    """One picture and the Foley recorded for it, both `duration_s` record seconds long.

    `pair_id` is stable across runs (it keys the feature cache and names the pair in a
    checkpoint); `origin` says where the pair came from, for messages ("walk.mp4 + walk.wav",
    "edit.otio V1 'Walk' at 01:00:02:00 + A2 'steps.wav'"). `whole_files`: a whole video with a
    whole audio file (folder data), rather than ranges of them (timelines).
    """

    pair_id: str
    origin: str
    picture: MediaSpan
    audio: AudioSpan
    prompt: str = ""
    whole_files: bool = False

    @property
    def duration_s(self) -> float:
        return self.picture.record_duration_s


@dataclass(frozen=True)
class Discovery:
    """What was found in DATA: candidate pairs, problems (unpaired files, unusable clips) and
    notes (things used differently than one might expect, said once)."""

    pairs: tuple[TrainingPair, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

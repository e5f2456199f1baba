"""What a caller asks of the pipeline, as plain records validated at the edge."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from plugin_server.pipeline.errors import InvalidRequest

Container = Literal["wav", "flac"]
SampleFormat = Literal["pcm24", "float32"]

MAX_HANDLES_FRAMES = 10_000
MAX_PROMPT_CHARS = 2_000
# Quieter than this is silence for any delivery; louder than 0 LUFS would clip.
LOUDNESS_RANGE_LUFS = (-70.0, 0.0)


@dataclass(frozen=True)
class AudioSpec:
    """How each clip's audio file is encoded."""

    container: Container = "wav"
    sample_format: SampleFormat = "pcm24"
    channels: int = 1
    loudness_target_lufs: float | None = None

    def __post_init__(self) -> None:
        if self.container not in ("wav", "flac"):
            raise InvalidRequest(f"audio container must be 'wav' or 'flac', got {self.container!r}")
        if self.sample_format not in ("pcm24", "float32"):
            raise InvalidRequest(
                f"audio sample format must be 'pcm24' or 'float32', got {self.sample_format!r}"
            )
        if self.container == "flac" and self.sample_format == "float32":
            raise InvalidRequest("FLAC cannot hold float32 samples; use pcm24 or a WAV container")
        if self.channels not in (1, 2):
            raise InvalidRequest(f"audio channels must be 1 or 2, got {self.channels}")
        target = self.loudness_target_lufs
        if target is not None:
            low, high = LOUDNESS_RANGE_LUFS
            if not math.isfinite(target) or not low <= target <= high:
                raise InvalidRequest(
                    f"loudness target must be between {low:g} and {high:g} LUFS, got {target}"
                )

    @property
    def suffix(self) -> str:
        return f".{self.container}"


@dataclass(frozen=True)
class GenerationRequest:
    """Options for one job. Empty `engine` / `preset` mean the deployment's defaults.

    `parameters` override the preset's settings (keys as in preset files). `tracks` selects
    video tracks by "V1", "1" or name; empty selects all. `handles_frames` is extra audio at
    each end of every clip, in timeline frames. `result_format` names the result timeline's
    format; None keeps the input's.
    """

    engine: str = ""
    preset: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    tracks: tuple[str, ...] = ()
    handles_frames: int = 0
    audio: AudioSpec = field(default_factory=AudioSpec)
    result_format: str | None = None
    use_cache: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.handles_frames <= MAX_HANDLES_FRAMES:
            raise InvalidRequest(
                f"handles must be between 0 and {MAX_HANDLES_FRAMES} frames, "
                f"got {self.handles_frames}"
            )
        for name in ("prompt", "negative_prompt"):
            if len(getattr(self, name)) > MAX_PROMPT_CHARS:
                raise InvalidRequest(f"{name} is longer than {MAX_PROMPT_CHARS} characters")
        if self.seed is not None and not -(2**63) <= self.seed < 2**63:
            raise InvalidRequest(f"seed must fit in 64 bits, got {self.seed}")

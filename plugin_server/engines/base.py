"""The one interface every Foley engine implements.

An engine takes a `ClipRequest` (frames, exact duration, prompt, seed, settings) and returns
`ClipAudio`: float32 mono audio at 48 kHz of exactly round(duration_s * 48000) samples, with an
`EngineReport` saying what was really used. Engines are chosen by name from the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from plugin_server.media.frames import FrameSource
from plugin_server.presets.settings import GenerationSettings

SAMPLE_RATE = 48_000

ProgressCallback = Callable[[str, float], None]
"""Called with (stage name, percent 0..100) as an engine works."""

StageCheck = Callable[[str, "ClipRequest"], None]
"""Called with (stage name, request) before each stage of a clip; it may raise to stop the
clip (the planner's injected memory ceiling raises an out-of-memory error this way)."""


class EngineError(RuntimeError):
    """Generation failed for a reason the user can act on; the message says what to do."""


class EngineUnavailable(EngineError):
    """The engine cannot run here (no weights, missing package); maps to FAILED_PRECONDITION."""


class Cancelled(EngineError):
    """The request was cancelled (client gone, deadline passed); raised between stages/steps."""


@dataclass(frozen=True)
class ClipRequest:
    clip_id: str
    frames: FrameSource | None
    duration_s: float
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    sample_rate: int = SAMPLE_RATE

    @property
    def num_samples(self) -> int:
        return round(self.duration_s * self.sample_rate)


@dataclass(frozen=True)
class EngineReport:
    engine: str
    model: str
    parameters: dict[str, Any]
    peak_memory_bytes: int
    stage_seconds: dict[str, float]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClipAudio:
    """`samples` is float32 [num_samples], mono, in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    report: EngineReport


@dataclass(frozen=True)
class EngineInfo:
    name: str
    model: str
    available: bool
    reason: str = ""
    device: str = "cpu"


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class Engine(Protocol):
    name: str

    def info(self) -> EngineInfo: ...

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        """Generate audio for one clip; raise Cancelled promptly once `cancel.is_set()`."""
        ...

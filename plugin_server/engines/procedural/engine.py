"""The procedural Foley engine: picture analysis, then DSP synthesis, on CPU, no weights.

Stages: "analysis" (one streaming pass over small grey frames: visual events and a motion
intensity curve) and "synthesis" (the prompt's recipes rendered at those events). The output is
float32 mono of exactly `request.num_samples` samples, bit-identical for the same request.

Engine options (`EngineConfig.options`), all prefixed "procedural_"; other keys belong to other
engines and are ignored:
- `procedural_analysis_fps` (number, 12..240, default 60): the rate frames are requested at.
  It should be at least the source's rate in record time; repeats are skipped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from plugin_server.engines.base import (
    Cancelled,
    CancelToken,
    ClipAudio,
    ClipRequest,
    EngineError,
    EngineInfo,
    EngineReport,
    ProgressCallback,
)
from plugin_server.engines.procedural.analysis import (
    ANALYSIS_HEIGHT,
    ANALYSIS_WIDTH,
    CHUNK_FRAMES,
    DEFAULT_ANALYSIS_FPS,
    MotionAnalysis,
    analyse_motion,
)
from plugin_server.engines.procedural.cues import cues_from_analysis
from plugin_server.engines.procedural.prompt import SoundPlan, plan_from_prompt
from plugin_server.engines.procedural.synthesis import stream_for, synthesize
from plugin_server.engines.registry import EngineConfig

ENGINE_NAME = "procedural"
# Part of every cache key: bumped when the same request sounds different (2: events on their
# pictures' presentation times, light and cuts apart from motion, a larger vocabulary).
MODEL_NAME = "procedural-dsp-2"
MAX_DURATION_S = 4 * 3600.0
SAMPLE_RATE_RANGE = (8_000, 192_000)
_OPTION_PREFIX = "procedural_"
_MAX_LISTED_ONSETS = 500
# Working memory, measured with tracemalloc (one thread, 2026-12-05): analysis holds one chunk
# of frames and its features, about 125 KiB per analysed 128x72 frame; synthesis holds the mix
# and the layer being rendered, up to about 6.1 times the float32 output for beds (2.5 for
# event-only prompts); a few recipes keep fixed buffers of a few MB (thunder's rumble).
_ANALYSIS_BYTES_PER_FRAME = 128 * 1024
_SYNTHESIS_OUTPUT_MULTIPLE = 6.5
_FIXED_BYTES = 8 * 2**20


@dataclass(frozen=True)
class ProceduralOptions:
    analysis_fps: Fraction = DEFAULT_ANALYSIS_FPS

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> ProceduralOptions:
        known = {"procedural_analysis_fps"}
        unknown = sorted(k for k in options if k.startswith(_OPTION_PREFIX) and k not in known)
        if unknown:
            raise EngineError(
                f"unknown procedural engine option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        fps = options.get("procedural_analysis_fps", DEFAULT_ANALYSIS_FPS)
        if isinstance(fps, bool) or not isinstance(fps, int | float | Fraction):
            raise EngineError(f"procedural_analysis_fps must be a number, got {fps!r}")
        if not 12 <= fps <= 240:
            raise EngineError(f"procedural_analysis_fps must be between 12 and 240, got {fps}")
        return cls(analysis_fps=Fraction(fps).limit_denominator(1001))


class ProceduralEngine:
    """Deterministic DSP Foley from the picture and the prompt; the embedded default engine."""

    name = ENGINE_NAME

    def __init__(self, config: EngineConfig | None = None) -> None:
        self._options = ProceduralOptions.from_mapping((config or EngineConfig()).options)

    def info(self) -> EngineInfo:
        return EngineInfo(name=ENGINE_NAME, model=MODEL_NAME, available=True, device="cpu")

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        """Generate the clip's audio; see the module docstring. Raises EngineError for a bad
        request, Cancelled between stages (and between frames) once `cancel` is set."""
        validate_clip_request(request)
        notify = progress or _no_progress
        stage = ["analysis"]

        def check_cancel() -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"clip {request.clip_id!r} was cancelled during {stage[0]}")

        check_cancel()
        started = time.perf_counter()
        notify("analysis", 0.0)
        analysis = self._analyse(request, check_cancel, notify)
        notify("analysis", 100.0)
        analysed = time.perf_counter()
        stage[0] = "synthesis"
        check_cancel()
        notify("synthesis", 0.0)
        plan = plan_from_prompt(
            request.prompt, request.negative_prompt or request.settings.negative_prompt
        )
        cues = cues_from_analysis(
            analysis,
            sample_rate=request.sample_rate,
            num_samples=request.num_samples,
            material=plan.material,
            rng=stream_for(request.seed, request.clip_id, "cues"),
        )
        samples = synthesize(
            plan,
            cues,
            seed=request.seed,
            clip_id=request.clip_id,
            check_cancel=check_cancel,
            report=lambda fraction: notify("synthesis", 100.0 * fraction),
        )
        finished = time.perf_counter()
        report = EngineReport(
            engine=ENGINE_NAME,
            model=MODEL_NAME,
            parameters=self._parameters(request, plan, analysis),
            peak_memory_bytes=estimated_peak_bytes(
                len(analysis.frame_times_s), request.num_samples
            ),
            stage_seconds={"analysis": analysed - started, "synthesis": finished - analysed},
            notes=_notes(plan, analysis),
        )
        return ClipAudio(samples=samples, sample_rate=request.sample_rate, report=report)

    def _analyse(
        self,
        request: ClipRequest,
        check_cancel: Callable[[], None],
        notify: ProgressCallback,
    ) -> MotionAnalysis:
        if request.frames is None:
            return MotionAnalysis.without_picture(request.duration_s)
        return analyse_motion(
            request.frames,
            request.duration_s,
            clip_id=request.clip_id,
            fps=self._options.analysis_fps,
            check_cancel=check_cancel,
            report=lambda fraction: notify("analysis", 100.0 * fraction),
        )

    def _parameters(
        self, request: ClipRequest, plan: SoundPlan, analysis: MotionAnalysis
    ) -> dict[str, Any]:
        onsets = analysis.onsets.times_s
        return {
            "seed": request.seed,
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or request.settings.negative_prompt,
            "recipes": [layer.label for layer in plan.layers],
            "material": plan.material or "default",
            "matched_words": list(plan.matched),
            "ignored_words": list(plan.ignored),
            "removed_recipes": list(plan.removed),
            "has_picture": analysis.has_picture,
            "analysis_fps": float(self._options.analysis_fps),
            "analysis_size": f"{ANALYSIS_WIDTH}x{ANALYSIS_HEIGHT}",
            "frames_received": analysis.frames_received,
            "frames_analysed": len(analysis.frame_times_s),
            "onset_count": len(onsets),
            "onset_times_s": [round(float(t), 4) for t in onsets[:_MAX_LISTED_ONSETS]],
            "cut_times_s": [round(float(t), 4) for t in analysis.cut_times_s[:_MAX_LISTED_ONSETS]],
            "lighting_breaks": analysis.lighting_breaks,
            "source_rate": _rate_text(analysis),
            "sample_rate": request.sample_rate,
            "num_samples": request.num_samples,
        }


def _rate_text(analysis: MotionAnalysis) -> str:
    """The picture rate recognised in record time ("24000/1001"), or "" when none was."""
    return str(analysis.cadence.rate) if analysis.cadence is not None else ""


def _no_progress(stage: str, percent: float) -> None:
    del stage, percent


def validate_clip_request(request: ClipRequest) -> None:
    """Refuse a request no picture-driven engine can serve, naming the clip and the field."""
    clip = f"clip {request.clip_id!r}"
    duration = request.duration_s
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise EngineError(f"{clip}: duration_s must be a number of seconds, got {duration!r}")
    if not math.isfinite(duration) or duration <= 0:
        raise EngineError(
            f"{clip}: duration_s must be a positive, finite number of seconds, got {duration}; "
            "a zero-length clip has nothing to generate"
        )
    if duration > MAX_DURATION_S:
        raise EngineError(
            f"{clip}: duration_s={duration:.0f} s is over the {MAX_DURATION_S / 3600:.0f} h "
            "limit for one clip; check the clip's range (a timecode read as frames?) or split it"
        )
    rate = request.sample_rate
    low, high = SAMPLE_RATE_RANGE
    if isinstance(rate, bool) or not isinstance(rate, int) or not low <= rate <= high:
        raise EngineError(
            f"{clip}: sample_rate must be a whole number of Hz in {low}..{high}, got {rate!r}"
        )
    if request.num_samples < 1:
        raise EngineError(f"{clip}: duration_s={duration} s is shorter than one sample")
    if not isinstance(request.prompt, str) or not isinstance(request.negative_prompt, str):
        raise EngineError(f"{clip}: prompt and negative_prompt must be text")
    if isinstance(request.seed, bool) or not isinstance(request.seed, int):
        raise EngineError(f"{clip}: seed must be a whole number, got {request.seed!r}")


def _notes(plan: SoundPlan, analysis: MotionAnalysis) -> tuple[str, ...]:
    notes: list[str] = []
    if not analysis.has_picture:
        notes.append("no picture: a prompt-driven bed, events on a plausible cadence")
    if plan.neutral:
        notes.append("the prompt names no known sound; the neutral recipe was used")
    if plan.ignored:
        notes.append(f"words not in the vocabulary were ignored: {', '.join(plan.ignored)}")
    return tuple(notes)


def estimated_peak_bytes(frames_analysed: int, num_samples: int) -> int:
    """An upper estimate of one clip's working memory (bytes), from its size alone.

    Not traced: `tracemalloc.start()`/`stop()` from a worker thread crashes CPython 3.11 when
    another thread allocates at that moment without the GIL (numpy does; CPython gh-128679,
    fixed in 3.12 and 3.13 only), and one clip's tracing would count its neighbours' memory
    anyway. The coefficients were measured with tracemalloc in a process of its own;
    tests/unit/engines/test_procedural_memory.py measures again and holds the estimate to
    being at least the traced peak and at most 3.5 times it plus 8 MiB."""
    analysis = _ANALYSIS_BYTES_PER_FRAME * min(frames_analysed, CHUNK_FRAMES + 1)
    synthesis = _SYNTHESIS_OUTPUT_MULTIPLE * 4 * num_samples  # float32 output
    return int(max(analysis, synthesis)) + _FIXED_BYTES

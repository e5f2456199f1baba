"""On out-of-memory, release what the attempt held, step down one setting and try again.

The ladder, in order: half precision, fewer steps, lower frame rate, shorter windows, then the
quality-neutral savers (sequential guidance, chunked visual encoding, chunked VAE decode),
encoder-only offload, stage-wise offload, streamed transformer blocks (4 resident, then
fewer), FP8 weights, and finally the CPU. Each retry changes one thing from the last attempt.
A step the planner predicts would not lower the failing stage's peak is skipped (and listed as
skipped): fewer sampler steps, for one, never lowers the peak of a sampler that keeps no
trajectory. A clip therefore fails with out-of-memory only when no cheaper setting remains.

Every attempt, failed or not, is recorded; the clip's `EngineReport` carries them in
`parameters["fallback_attempts"]` and as readable `notes`, with the settings finally used.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace

from plugin_server.engines.base import (
    CancelToken,
    ClipAudio,
    ClipRequest,
    Engine,
    EngineError,
    EngineInfo,
    ProgressCallback,
)
from plugin_server.engines.registry import EngineConfig
from plugin_server.planning.auto import fit_placement
from plugin_server.planning.ceiling import (
    MEMORY_CEILING_OPTION,
    DeviceOutOfMemory,
    ceiling_from_options,
)
from plugin_server.planning.device import DeviceCapacity, probe_device
from plugin_server.planning.loaded_dims import engine_dims
from plugin_server.planning.model_dims import dims_for_model_name
from plugin_server.planning.planner import ClipEstimate, estimate_clip
from plugin_server.planning.wiring import wired_engine
from plugin_server.planning.workload import window_seconds
from plugin_server.presets.settings import GenerationSettings

log = logging.getLogger(__name__)

MIN_STEPS = 10
MIN_WINDOW_S = 5.0
MIN_FRAME_RATE = 1.0
FIRST_VISUAL_CHUNK = 8  # frames per encoder call (Synchformer takes at least one segment, 16)
FIRST_VAE_CHUNK_S = 5.0
MIN_VAE_CHUNK_S = 1.0
FIRST_STREAM_BLOCKS = 4  # resident blocks when streaming starts; halved down to 1

Placer = Callable[[GenerationSettings, float], tuple[GenerationSettings, str]]
"""Resolves a `fit` placement for (settings, clip seconds): (settings to run, the reason)."""

Predictor = Callable[[GenerationSettings, float], ClipEstimate | None]
"""The planner bound to a model and device: (settings, clip seconds) -> estimate, or None
while the model's sizes are not known yet (before its weights are loaded)."""


@dataclass(frozen=True)
class StepDown:
    """One change from the previous attempt's settings; `settings` is the result."""

    name: str
    settings: GenerationSettings


@dataclass(frozen=True)
class Attempt:
    """One try at a clip: what ran, where, and how it ended ("ok" or "out of memory")."""

    step: str
    device: str
    settings: GenerationSettings
    outcome: str
    seconds: float
    stage: str = ""
    message: str = ""
    predicted_peak_bytes: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "step": self.step,
            "device": self.device,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 3),
            "stage": self.stage,
            "message": self.message,
            "predicted_peak_bytes": self.predicted_peak_bytes,
            "settings": self.settings.to_dict(),
        }

    def describe(self) -> str:
        where = f" in stage {self.stage}" if self.stage else ""
        return f"{self.step} on {self.device}: {self.outcome}{where}"


def step_downs(settings: GenerationSettings, duration_s: float) -> list[StepDown]:
    """Every single-setting step down from `settings`, in ladder order (the CPU excluded)."""
    steps: list[StepDown] = []

    def add(name: str, **changes: object) -> None:
        steps.append(StepDown(name, replace(settings, **changes)))

    if not settings.use_half_precision:
        add("half precision", use_half_precision=True)
    if settings.diffusion_timesteps > MIN_STEPS:
        add("fewer steps", diffusion_timesteps=max(MIN_STEPS, settings.diffusion_timesteps // 2))
    if settings.frame_sampling_rate > MIN_FRAME_RATE:
        add(
            "lower frame rate",
            frame_sampling_rate=max(MIN_FRAME_RATE, settings.frame_sampling_rate / 2),
        )
    window = window_seconds(settings, duration_s)
    if window > MIN_WINDOW_S:
        add("shorter windows", max_audio_duration=max(MIN_WINDOW_S, window / 2))
    if settings.cfg_mode == "batched":
        add("sequential guidance", cfg_mode="sequential")
    chunk = settings.cache_clear_interval
    if chunk is None or chunk > 1:
        add(
            "chunked visual encoding",
            cache_clear_interval=max(1, chunk // 2) if chunk else FIRST_VISUAL_CHUNK,
        )
    vae_chunk = settings.vae_chunk_seconds
    if vae_chunk is None or vae_chunk > MIN_VAE_CHUNK_S:
        add(
            "chunked VAE decode",
            vae_chunk_seconds=max(MIN_VAE_CHUNK_S, vae_chunk / 2)
            if vae_chunk
            else FIRST_VAE_CHUNK_S,
        )
    if not settings.encoder_offload and not settings.stagewise_offload:
        add("encoder offload", encoder_offload=True)
    if not settings.stagewise_offload:
        add("stage-wise offload", stagewise_offload=True)
    blocks = settings.stream_blocks
    if blocks is None:
        add("streamed blocks", stream_blocks=FIRST_STREAM_BLOCKS)
    elif blocks > 1:
        add("fewer resident blocks", stream_blocks=max(1, blocks // 2))
    if not settings.fp8_weights:
        add("FP8 weights", fp8_weights=True)
    return steps


def is_out_of_memory(error: BaseException) -> bool:
    """True for our injected DeviceOutOfMemory and for torch's CUDA OutOfMemoryError."""
    if isinstance(error, DeviceOutOfMemory):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(error, torch.OutOfMemoryError)


def release_device_memory() -> None:
    """Collect unreachable tensors and hand cached CUDA blocks back to the driver."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _forget(error: BaseException) -> None:
    """Drop every reference the exception keeps to the failed attempt's frames and tensors."""
    for chained in (error, error.__context__, error.__cause__):
        if chained is not None and chained.__traceback__ is not None:
            traceback.clear_frames(chained.__traceback__)
            chained.__traceback__ = None
    error.__context__ = error.__cause__ = None
    # An interactive session or a debugger hook may have stashed it here too.
    for name in ("last_exc", "last_value", "last_traceback", "last_type"):
        if getattr(sys, name, None) is not None:
            setattr(sys, name, None)


class OomFallbackEngine:
    """Wraps an engine so that a clip that runs out of device memory steps down and retries.

    `predict` is the planner bound to the engine's model and device (None: no skipping).
    `cpu_engine` builds the same engine on the CPU for the last step (None: no CPU step).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        predict: Predictor | None = None,
        cpu_engine: Callable[[], Engine] | None = None,
        place: Placer | None = None,
    ) -> None:
        self._engine = engine
        self._predict = predict
        self._cpu_engine = cpu_engine
        self._place = place
        self.name = engine.name

    def info(self) -> EngineInfo:
        return self._engine.info()

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        """Generate `request`, stepping down on out-of-memory; the report lists the attempts."""
        attempts: list[Attempt] = []
        skipped: list[str] = []
        engine, device, on_cpu = self._engine, self._engine.info().device, False
        settings, placed = request.settings, ""
        if settings.placement != "manual" and self._place is not None:
            settings, placed = self._place(settings, request.duration_s)
        step = StepDown("as requested", settings)
        while True:
            predicted = self._peak(step.settings, request.duration_s)
            started = time.perf_counter()
            audio, stage, message = _attempt(
                engine, replace(request, settings=step.settings), progress, cancel
            )
            seconds = time.perf_counter() - started
            if audio is not None:
                attempts.append(
                    Attempt(
                        step.name,
                        device,
                        step.settings,
                        "ok",
                        seconds,
                        predicted_peak_bytes=predicted,
                    )
                )
                audio = _with_attempts(audio, attempts, skipped)
                return _with_placement(audio, placed) if placed else audio
            attempts.append(
                Attempt(
                    step.name,
                    device,
                    step.settings,
                    "out of memory",
                    seconds,
                    stage,
                    message,
                    predicted,
                )
            )
            log.warning("clip %s: %s; stepping down", request.clip_id, attempts[-1].describe())
            release_device_memory()
            next_step = self._next_step(step.settings, request.duration_s, stage, skipped)
            if next_step is not None:
                step = next_step
            elif self._cpu_engine is not None and not on_cpu:
                engine, device, on_cpu = self._cpu_engine(), "cpu", True
                step = StepDown("cpu", step.settings)
            else:
                raise FallbackExhausted(request.clip_id, attempts)

    def _peak(self, settings: GenerationSettings, duration_s: float, stage: str = "") -> int | None:
        estimate = None if self._predict is None else self._predict(settings, duration_s)
        if estimate is None:
            return None
        return estimate.stage(stage).peak_bytes if stage else estimate.peak_memory_bytes

    def _next_step(
        self, settings: GenerationSettings, duration_s: float, stage: str, skipped: list[str]
    ) -> StepDown | None:
        """The first step down predicted to lower the failing stage's peak (or the clip's)."""
        current = self._peak(settings, duration_s, stage)
        for candidate in step_downs(settings, duration_s):
            if current is None:
                return candidate
            lowered = self._peak(candidate.settings, duration_s, stage)
            if lowered is not None and lowered < current:
                return candidate
            note = f"{candidate.name} (predicted not to lower the {stage or 'clip'} peak)"
            if note not in skipped:
                skipped.append(note)
        return None


def _attempt(
    engine: Engine,
    request: ClipRequest,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> tuple[ClipAudio | None, str, str]:
    """Run one attempt: (audio, "", "") or, on out-of-memory, (None, stage, first line).

    The exception and its traceback keep the failed attempt's frames, and with them its
    tensors, alive; they are dropped here, before anything is retried.
    """
    try:
        return engine.generate(request, progress=progress, cancel=cancel), "", ""
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        stage = getattr(error, "stage", "")
        message = (str(error).splitlines() or [type(error).__name__])[0]
        _forget(error)
        del error
    return None, stage, message


class FallbackExhausted(EngineError):
    """Every step down ran out of memory too; the message lists each attempt.

    Not itself an out-of-memory error, so an outer fallback does not retry it.
    """

    def __init__(self, clip_id: str, attempts: list[Attempt]) -> None:
        self.attempts = tuple(attempts)
        super().__init__(
            f"clip {clip_id!r} ran out of device memory at every setting tried: "
            + "; ".join(attempt.describe() for attempt in attempts)
            + ". Use a smaller model, a shorter clip, or a device with more memory."
        )


def _with_attempts(audio: ClipAudio, attempts: list[Attempt], skipped: list[str]) -> ClipAudio:
    """The clip's audio with its report extended by the attempts and the settings used."""
    report = audio.report
    final = attempts[-1]
    notes = list(report.notes)
    if len(attempts) > 1:
        notes.append(
            f"out of memory: finished after {len(attempts)} attempts, with {final.step} on "
            f"{final.device}"
        )
        notes.extend(f"attempt {i}: {attempt.describe()}" for i, attempt in enumerate(attempts, 1))
        notes.extend(f"skipped: {name}" for name in skipped)
    parameters = {
        **report.parameters,
        "fallback_attempts": [attempt.to_dict() for attempt in attempts],
        "device": final.device,
    }
    return replace(audio, report=replace(report, parameters=parameters, notes=tuple(notes)))


def _with_placement(audio: ClipAudio, reason: str) -> ClipAudio:
    report = audio.report
    parameters = {**report.parameters, "placement_choice": reason}
    notes = (*report.notes, reason)
    return replace(audio, report=replace(report, parameters=parameters, notes=notes))


def with_oom_fallback(name: str, config: EngineConfig) -> OomFallbackEngine:
    """The engine `name` wrapped in the OOM fallback, with the planner and a CPU last step.

    The planner is bound to the sizes of the networks the engine has loaded (engines that
    report none, such as the procedural one, step down without skipping), and the CPU step
    builds the same engine on the CPU without any injected memory ceiling.
    """
    engine = wired_engine(name, config)
    device_kind = "cpu" if engine.info().device == "cpu" else "cuda"

    def predict(settings: GenerationSettings, duration_s: float) -> ClipEstimate | None:
        dims = engine_dims(engine)
        return None if dims is None else estimate_clip(duration_s, settings, dims, "cuda")

    def on_cpu() -> Engine:
        options = {k: v for k, v in config.options.items() if k != MEMORY_CEILING_OPTION}
        return wired_engine(name, replace(config, device="cpu", options=options))

    has_ceiling = MEMORY_CEILING_OPTION in config.options
    ceiling = ceiling_from_options(config.options)

    def place(settings: GenerationSettings, duration_s: float) -> tuple[GenerationSettings, str]:
        if not hasattr(engine, "loaded_networks"):
            return settings, ""  # no networks to place (the procedural engine)
        info = engine.info()
        dims = engine_dims(engine) or dims_for_model_name(info.model)
        if ceiling is not None:
            # The injected ceiling stands for a GPU of that size (as the guard predicts "cuda").
            capacity = DeviceCapacity(info.device, "injected ceiling", ceiling, ceiling, (9, 0))
        else:
            capacity = probe_device(info.device)
        choice = fit_placement(settings, duration_s, dims, capacity)
        log.info("%s", choice.reason)
        return choice.settings, choice.reason

    return OomFallbackEngine(
        engine,
        predict=predict,
        cpu_engine=on_cpu if device_kind == "cuda" or has_ceiling else None,
        place=place,
    )

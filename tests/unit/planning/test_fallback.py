"""The OOM fallback releases the failed attempt, steps down in order, and reports every attempt.

`GuardedEngine` is a stand-in whose per-stage memory is the planner's prediction checked by the
real `StageMemoryGuard`; the real HunyuanEngine under a ceiling is tested in
test_engine_fallback.py.
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
import torch

from plugin_server.engines.base import (
    ClipAudio,
    ClipRequest,
    EngineError,
    EngineInfo,
    EngineReport,
)
from plugin_server.planning.ceiling import (
    MEMORY_CEILING_OPTION,
    DeviceOutOfMemory,
    StageMemoryGuard,
    ceiling_from_options,
)
from plugin_server.planning.fallback import (
    FallbackExhausted,
    OomFallbackEngine,
    is_out_of_memory,
    step_downs,
)
from plugin_server.planning.memory_model import STAGES
from plugin_server.planning.model_dims import ModelDims, model_dims
from plugin_server.planning.planner import estimate_clip
from plugin_server.presets import load_preset

XL = model_dims("xl")
DEFAULT = load_preset("default").settings
DURATION_S = 12.0


@dataclass
class GuardedEngine:
    """Runs every stage through the memory guard, then returns silence of the right length."""

    dims: ModelDims
    ceiling_bytes: int | None
    device: str = "cuda:0"
    name: str = "guarded"
    calls: list[ClipRequest] = field(default_factory=list)

    def info(self) -> EngineInfo:
        return EngineInfo(self.name, self.dims.name, True, device=self.device)

    def generate(self, request, *, progress=None, cancel=None) -> ClipAudio:  # type: ignore[no-untyped-def]
        self.calls.append(request)
        guard = StageMemoryGuard.from_options(
            {MEMORY_CEILING_OPTION: self.ceiling_bytes}, self.dims
        )
        for stage in STAGES:
            guard.before_stage(stage, request)
        report = EngineReport(self.name, self.dims.name, request.settings.to_dict(), 0, {})
        return ClipAudio(np.zeros(request.num_samples, np.float32), request.sample_rate, report)


def _predict(settings, duration_s):  # type: ignore[no-untyped-def]
    return estimate_clip(duration_s, settings, XL, "cuda")


def _peak(settings) -> int:  # type: ignore[no-untyped-def]
    return _predict(settings, DURATION_S).peak_memory_bytes


def _request() -> ClipRequest:
    return ClipRequest("clip-1", None, DURATION_S, settings=DEFAULT)


def test_ladder_order_follows_the_issue() -> None:
    names = [step.name for step in step_downs(DEFAULT, DURATION_S)]
    assert names == [
        "half precision",
        "fewer steps",
        "lower frame rate",
        "shorter windows",
        "sequential guidance",
        "chunked visual encoding",
        "chunked VAE decode",
        "encoder offload",
        "stage-wise offload",
        "streamed blocks",
        "FP8 weights",
    ]


def test_streamed_blocks_step_down_to_fewer_resident_blocks() -> None:
    streamed = replace(DEFAULT, stream_blocks=4, stagewise_offload=True)
    names = {step.name: step.settings for step in step_downs(streamed, DURATION_S)}
    assert names["fewer resident blocks"].stream_blocks == 2
    assert "encoder offload" not in names  # stage-wise offload already moves the encoders
    last = replace(streamed, stream_blocks=1, fp8_weights=True)
    assert not {"fewer resident blocks", "FP8 weights"} & {
        step.name for step in step_downs(last, DURATION_S)
    }


def test_each_step_changes_exactly_one_setting() -> None:
    before = DEFAULT.to_dict()
    for step in step_downs(DEFAULT, DURATION_S):
        after = step.settings.to_dict()
        changed = [key for key in before if before[key] != after[key]]
        assert len(changed) == 1, (step.name, changed)


def test_nothing_left_to_step_down_from_the_lightest_settings() -> None:
    lightest = replace(
        DEFAULT,
        use_half_precision=True,
        diffusion_timesteps=10,
        frame_sampling_rate=1.0,
        max_audio_duration=5.0,
        cfg_mode="sequential",
        cache_clear_interval=1,
        vae_chunk_seconds=1.0,
        stagewise_offload=True,
        stream_blocks=1,
        fp8_weights=True,
    )
    assert step_downs(lightest, DURATION_S) == []


def test_clip_that_fits_runs_once_and_reports_one_attempt() -> None:
    engine = GuardedEngine(XL, ceiling_bytes=None)
    audio = OomFallbackEngine(engine, predict=_predict).generate(_request())
    attempts = audio.report.parameters["fallback_attempts"]
    assert [attempt["step"] for attempt in attempts] == ["as requested"]
    assert attempts[0]["outcome"] == "ok"
    assert len(engine.calls) == 1
    assert audio.samples.shape == (round(DURATION_S * 48_000),)


def test_steps_down_until_it_fits_and_reports_the_ladder() -> None:
    # A ceiling between the half-precision peak and the FP32 one: one step down is enough.
    half = replace(DEFAULT, use_half_precision=True)
    ceiling = (_peak(half) + _peak(DEFAULT)) // 2
    engine = GuardedEngine(XL, ceiling)
    audio = OomFallbackEngine(engine, predict=_predict).generate(_request())
    attempts = audio.report.parameters["fallback_attempts"]
    assert [(a["step"], a["outcome"]) for a in attempts] == [
        ("as requested", "out of memory"),
        ("half precision", "ok"),
    ]
    assert attempts[0]["stage"] in STAGES
    assert audio.report.parameters["use_half_precision"] is True
    assert any("finished after 2 attempts" in note for note in audio.report.notes)


def test_steps_that_cannot_lower_the_peak_are_skipped() -> None:
    # Below the half-precision peak, "fewer steps" is predicted useless and is not tried.
    half = replace(DEFAULT, use_half_precision=True)
    ceiling = _peak(half) - 1
    engine = GuardedEngine(XL, ceiling)
    audio = OomFallbackEngine(engine, predict=_predict).generate(_request())
    steps = [a["step"] for a in audio.report.parameters["fallback_attempts"]]
    assert steps[:2] == ["as requested", "half precision"]
    assert "fewer steps" not in steps
    assert any(note.startswith("skipped: fewer steps") for note in audio.report.notes)
    assert [call.settings.diffusion_timesteps for call in engine.calls] == [100] * len(steps)
    assert audio.report.parameters["fallback_attempts"][-1]["outcome"] == "ok"


def test_moves_to_the_cpu_when_no_cheaper_setting_fits() -> None:
    gpu = GuardedEngine(XL, ceiling_bytes=1)
    cpu = GuardedEngine(XL, ceiling_bytes=None, device="cpu")
    fallback = OomFallbackEngine(gpu, predict=_predict, cpu_engine=lambda: cpu)
    audio = fallback.generate(_request())
    attempts = audio.report.parameters["fallback_attempts"]
    assert attempts[-1]["step"] == "cpu" and attempts[-1]["outcome"] == "ok"
    assert all(a["outcome"] == "out of memory" for a in attempts[:-1])
    assert audio.report.parameters["device"] == "cpu"
    assert len(cpu.calls) == 1


def test_without_a_cpu_step_the_error_lists_every_attempt() -> None:
    fallback = OomFallbackEngine(GuardedEngine(XL, ceiling_bytes=1), predict=_predict)
    with pytest.raises(FallbackExhausted) as raised:
        fallback.generate(_request())
    assert "as requested on cuda:0: out of memory" in str(raised.value)
    assert len(raised.value.attempts) >= 2
    assert not is_out_of_memory(raised.value)


@dataclass
class HoardingEngine:
    """Raises torch's OOM while its frame holds a tensor; records whether the last one lived on."""

    name: str = "hoarding"
    failures_left: int = 1
    held: list[weakref.ref[torch.Tensor]] = field(default_factory=list)
    alive_at_retry: list[bool] = field(default_factory=list)

    def info(self) -> EngineInfo:
        return EngineInfo(self.name, "none", True, device="cuda:0")

    def generate(self, request, *, progress=None, cancel=None) -> ClipAudio:  # type: ignore[no-untyped-def]
        self.alive_at_retry.extend(ref() is not None for ref in self.held)
        activations = torch.ones(1_000_000)
        self.held.append(weakref.ref(activations))
        if self.failures_left:
            self.failures_left -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        report = EngineReport(self.name, "none", request.settings.to_dict(), 0, {})
        return ClipAudio(np.zeros(request.num_samples, np.float32), request.sample_rate, report)


def test_failed_attempt_tensors_are_freed_before_the_retry() -> None:
    gc.disable()  # the release must not depend on a collection happening by chance
    try:
        engine = HoardingEngine()
        audio = OomFallbackEngine(engine).generate(_request())
    finally:
        gc.enable()
    assert engine.alive_at_retry == [False]
    assert [a["outcome"] for a in audio.report.parameters["fallback_attempts"]] == [
        "out of memory",
        "ok",
    ]


def test_errors_other_than_out_of_memory_pass_through() -> None:
    @dataclass
    class Broken:
        name: str = "broken"

        def info(self) -> EngineInfo:
            return EngineInfo(self.name, "none", True, device="cuda:0")

        def generate(self, request, *, progress=None, cancel=None):  # type: ignore[no-untyped-def]
            raise EngineError("weights file is truncated")

    with pytest.raises(EngineError, match="truncated"):
        OomFallbackEngine(Broken()).generate(_request())


def test_guard_error_names_clip_stage_and_sizes() -> None:
    guard = StageMemoryGuard(1024**3, XL)
    with pytest.raises(DeviceOutOfMemory) as raised:
        guard.before_stage("sampling", _request())
    error = raised.value
    assert error.stage == "sampling" and error.clip_id == "clip-1"
    assert (
        error.needed_bytes
        == estimate_clip(DURATION_S, DEFAULT, XL, "cuda").stage("sampling").peak_bytes
    )
    assert "clip 'clip-1': stage 'sampling' needs about" in str(error)
    assert is_out_of_memory(error)


@pytest.mark.parametrize("value", [0, -5, 1.5, "8GB", True])
def test_bad_ceiling_option_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="memory_ceiling_bytes must be a positive whole number"):
        ceiling_from_options({MEMORY_CEILING_OPTION: value})


def test_no_ceiling_option_means_no_guard() -> None:
    assert ceiling_from_options({}) is None
    StageMemoryGuard.from_options({}, XL).before_stage("sampling", _request())

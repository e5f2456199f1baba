"""The real hunyuan engine (tiny random model, CPU) under an injected memory ceiling: it runs
out of memory, the fallback steps down, and the clip completes with every attempt reported."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from planning_fixtures import CLIP_S, one_thread, short_video, tiny_weights

from plugin_server.engines.base import ClipRequest
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import MediaSpan
from plugin_server.planning.ceiling import MEMORY_CEILING_OPTION, DeviceOutOfMemory
from plugin_server.planning.fallback import step_downs, with_oom_fallback
from plugin_server.planning.loaded_dims import engine_dims
from plugin_server.planning.planner import estimate_clip
from plugin_server.planning.wiring import wired_engine
from plugin_server.presets import load_preset

pytestmark = pytest.mark.slow
__all__ = ["one_thread", "short_video", "tiny_weights"]  # fixtures used by name
# The guide's default, with few sampler steps: steps change time, not memory (no trajectory is
# kept), and the test is about memory.
DEFAULT = replace(load_preset("default").settings, diffusion_timesteps=8)


def _request(video: Path) -> ClipRequest:
    span = MediaSpan(video, 0.0, CLIP_S, 1.0, CLIP_S)
    return ClipRequest("sweep", MediaFileSource(span), CLIP_S, seed=7, settings=DEFAULT)


def _config(weights: Path, ceiling: int) -> EngineConfig:
    return EngineConfig(weights_dir=weights, device="cpu", options={MEMORY_CEILING_OPTION: ceiling})


@pytest.fixture(scope="module")
def tiny_dims(tiny_weights: Path, short_video: Path):  # type: ignore[no-untyped-def]
    """The planner's view of the tiny model, read off a loaded engine."""
    engine = create_engine("hunyuan", EngineConfig(weights_dir=tiny_weights, device="cpu"))
    engine.generate(_request(short_video))
    dims = engine_dims(engine)
    assert dims is not None
    return dims


def _first_helpful_step(dims):  # type: ignore[no-untyped-def]
    """The first step down predicted to lower the clip's peak, with both peaks."""
    before = estimate_clip(CLIP_S, DEFAULT, dims, "cuda").peak_memory_bytes
    for step in step_downs(DEFAULT, CLIP_S):
        after = estimate_clip(CLIP_S, step.settings, dims, "cuda").peak_memory_bytes
        if after < before:
            return step, before, after
    raise AssertionError("no step down lowers the tiny model's predicted peak")


def test_engine_raises_device_out_of_memory_under_the_ceiling(
    tiny_weights: Path, short_video: Path, tiny_dims
) -> None:  # type: ignore[no-untyped-def]
    needed = estimate_clip(CLIP_S, DEFAULT, tiny_dims, "cuda").peak_memory_bytes
    engine = wired_engine("hunyuan", _config(tiny_weights, needed - 1))
    with pytest.raises(DeviceOutOfMemory) as raised:
        engine.generate(_request(short_video))
    assert raised.value.needed_bytes == needed
    assert raised.value.clip_id == "sweep"


def test_fallback_steps_down_and_completes_with_the_real_engine(
    tiny_weights: Path, short_video: Path, tiny_dims
) -> None:  # type: ignore[no-untyped-def]
    step, before, after = _first_helpful_step(tiny_dims)
    engine = with_oom_fallback("hunyuan", _config(tiny_weights, (before + after) // 2))
    audio = engine.generate(_request(short_video))

    attempts = audio.report.parameters["fallback_attempts"]
    assert [a["outcome"] for a in attempts] == ["out of memory", "ok"]
    assert [a["step"] for a in attempts] == ["as requested", step.name]
    assert attempts[0]["stage"] in ("text", "frames", "sampling", "decode")
    assert audio.samples.shape == (round(CLIP_S * 48_000),)
    assert 0 < float(abs(audio.samples).max()) <= 1.0
    # The report says what finally ran: the stepped-down settings.
    final = step.settings.to_dict()
    changed = [key for key, value in final.items() if DEFAULT.to_dict()[key] != value]
    for key in changed:
        assert attempts[-1]["settings"][key] == final[key]
    assert any("finished after 2 attempts" in note for note in audio.report.notes)


def test_with_no_setting_small_enough_the_clip_finishes_on_the_cpu(
    tiny_weights: Path, short_video: Path
) -> None:
    engine = with_oom_fallback("hunyuan", _config(tiny_weights, 1))
    audio = engine.generate(_request(short_video))

    attempts = audio.report.parameters["fallback_attempts"]
    assert attempts[0]["step"] == "as requested"
    assert attempts[-1]["step"] == "cpu" and attempts[-1]["outcome"] == "ok"
    assert all(a["outcome"] == "out of memory" for a in attempts[:-1])
    # Every rung the planner thought could help was tried before giving up the device.
    assert "half precision" in [a["step"] for a in attempts]
    assert audio.samples.shape == (round(CLIP_S * 48_000),)

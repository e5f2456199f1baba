"""Planning pieces that need no media: settings per clip, handles before the media's start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugin_server.engines.base import EngineInfo
from plugin_server.pipeline.clip_runner import _padded
from plugin_server.pipeline.errors import InvalidRequest
from plugin_server.pipeline.plan import _clamped_span
from plugin_server.pipeline.settings import SettingsResolver
from plugin_server.presets import load_preset

PROCEDURAL = EngineInfo(name="procedural", model="dsp", available=True)


def test_overrides_apply_in_order_over_the_preset() -> None:
    resolver = SettingsResolver(
        "light",
        (
            ("server defaults", {"diffusion_timesteps": 30, "guidance_scale": 3.0}),
            ("request parameters", {"diffusion_timesteps": 12}),
        ),
        PROCEDURAL,
    )
    preset, settings = resolver.for_clip(4.0)
    assert preset == "light"
    assert settings.diffusion_timesteps == 12
    assert settings.guidance_scale == 3.0
    assert settings.frame_sampling_rate == load_preset("light").settings.frame_sampling_rate


def test_auto_is_the_default_preset_for_the_procedural_engine() -> None:
    preset, settings = SettingsResolver("auto", (), PROCEDURAL).for_clip(30.0)
    assert preset == "default"
    assert settings == load_preset("default").settings


@pytest.mark.parametrize(
    ("preset", "overrides", "message"),
    [
        ("nope", (), "unknown preset 'nope'"),
        ("default", (("request parameters", {"steps": 3}),), "unknown key 'steps'"),
        ("default", (("request parameters", {"batch_size": 0}),), "batch_size"),
    ],
)
def test_bad_presets_and_parameters_are_invalid_requests(preset, overrides, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequest, match=message):
        SettingsResolver(preset, overrides, PROCEDURAL)


def test_head_handle_before_the_media_start_becomes_leading_silence() -> None:
    # A clip from 0.5 s with 1 s handles at 2x speed asks for media from -1.5 s.
    span, before, after = _clamped_span(
        Path("a.mov"), start_s=-1.5, duration_s=8.0, time_scalar=2.0, record_duration_s=4.0
    )
    assert (span.start_s, span.duration_s) == (0.0, 6.5)
    assert span.record_duration_s == pytest.approx(3.25)
    assert (before, after) == (pytest.approx(0.75), 0.0)


def test_reverse_clips_get_the_silence_at_their_end() -> None:
    span, before, after = _clamped_span(
        Path("a.mov"), start_s=-0.5, duration_s=3.0, time_scalar=-1.0, record_duration_s=3.0
    )
    assert (span.start_s, span.duration_s, span.record_duration_s) == (0.0, 2.5, 2.5)
    assert (before, after) == (0.0, 0.5)


def test_spans_inside_the_media_are_untouched() -> None:
    span, before, after = _clamped_span(
        Path("a.mov"), start_s=1.0, duration_s=2.0, time_scalar=1.0, record_duration_s=2.0
    )
    assert (span.start_s, span.duration_s, before, after) == (1.0, 2.0, 0, 0)


def test_padding_gives_exactly_the_files_sample_count() -> None:
    from dataclasses import dataclass

    @dataclass
    class Job:
        pad_before_s: float = 0.75
        pad_after_s: float = 0.0
        num_samples: int = 4 * 48_000

    engine_audio = np.ones(round(3.25 * 48_000), np.float32)
    padded = _padded(engine_audio, Job())  # type: ignore[arg-type]
    assert padded.shape == (4 * 48_000,)
    assert not padded[:36_000].any() and padded[36_000:].all()

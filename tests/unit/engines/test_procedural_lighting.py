"""Light is not motion: fades, exposure ramps, a strobe and hard cuts make no sound events,
cuts are found and analysis restarts after them, and a hit just after a cut is still found.

The shot under the light changes is a swaying pendulum (motion without contact, which alone
makes no event), drawn with sensor noise, encoded to H.264 and decoded as in production.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from procedural_scenes import Bounces, Cuts, Lit, Noisy, Pendulum

from plugin_server.demo.media import Scene, write_scene_video
from plugin_server.engines.base import ClipRequest
from plugin_server.engines.procedural import ProceduralEngine
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import MediaSpan

pytestmark = pytest.mark.slow  # real encodes and decodes

FPS = Fraction(24)
FRAMES = 96
SIZE = {"width": 256, "height": 144}
CAMERA = {"crf": "23", "preset": "ultrafast", "bf": "0"}
Light = Callable[[int], tuple[float, float, float]]  # frame -> (gain, offset, gamma)


def _fade_out(index: int) -> tuple[float, float, float]:
    return min(1.0, max(0.0, (FRAMES - 1 - index) / 36)), 0.0, 1.0  # to black over 1.5 s


def _fade_in(index: int) -> tuple[float, float, float]:
    return min(1.0, index / 36), 0.0, 1.0  # from black over 1.5 s


def _brightness_ramp(index: int) -> tuple[float, float, float]:
    return 1.0, 1.5 * index - 60.0, 1.0  # every pixel +1.5 grey levels a frame


def _exposure_ramp(index: int) -> tuple[float, float, float]:
    return 0.5 + index / FRAMES, 0.0, 1.3 - 0.6 * index / FRAMES  # gain and gamma together


def _strobe(index: int) -> tuple[float, float, float]:
    return (2.2, 60.0, 1.0) if index % 6 in (0, 1) else (1.0, 0.0, 1.0)  # 2 frames in 6, clipping


def _analyse(scene: Scene, tmp_path: Path) -> dict:
    video = write_scene_video(tmp_path / "shot.mp4", Noisy(scene), **SIZE, options=CAMERA)
    span = MediaSpan(video.path, 0.0, video.duration_s, 1.0, video.duration_s)
    request = ClipRequest("light", MediaFileSource(span), video.duration_s, prompt="door slam")
    return ProceduralEngine().generate(request).report.parameters


@pytest.mark.parametrize(
    "light",
    [
        _fade_out,
        _fade_in,
        _brightness_ramp,
        _exposure_ramp,
        _strobe,
    ],
    ids=["fade-out", "fade-in", "brightness-ramp", "exposure-ramp", "strobe"],
)
def test_light_changes_make_no_sound_event(light: Light, tmp_path: Path) -> None:
    report = _analyse(Lit(Pendulum(FPS, FRAMES), light), tmp_path)
    assert report["onset_count"] == 0, report["onset_times_s"]


def test_the_strobe_is_seen_as_light_not_as_motion(tmp_path: Path) -> None:
    report = _analyse(Lit(Pendulum(FPS, FRAMES), _strobe), tmp_path)
    assert report["lighting_breaks"] >= 2 * (FRAMES // 6) - 2  # into and out of every flash
    assert report["cut_times_s"] == []


def test_hard_cuts_are_found_and_make_no_sound_event(tmp_path: Path) -> None:
    shots = (
        Pendulum(FPS, 40),
        Lit(Pendulum(FPS, 40, 0.9, 0.3, background_seed=8), lambda i: (0.7, 30.0, 1.0)),
        Pendulum(FPS, 40, period_s=2.0, background_seed=11),
    )
    report = _analyse(Cuts(shots, (0, 30, 62), FRAMES, FPS), tmp_path)
    assert np.allclose(report["cut_times_s"], [30 / 24, 62 / 24], atol=1e-3)
    assert report["onset_count"] == 0, report["onset_times_s"]


def test_a_hit_just_after_a_cut_is_found_on_its_frame(tmp_path: Path) -> None:
    # The crate lands 3 frames after the cut, and bounces once more.
    shots = (Pendulum(FPS, 40), Bounces(FPS, 60, (3, 17), shape="box", size=30, background_seed=5))
    scene = Cuts(shots, (0, 36), FRAMES, FPS)
    report = _analyse(scene, tmp_path)
    assert np.allclose(report["cut_times_s"], [36 / 24], atol=1e-3)
    assert np.allclose(report["onset_times_s"], [39 / 24, 53 / 24], atol=1e-3)


def test_hits_under_a_brightening_exposure_are_still_found_on_their_frames(
    tmp_path: Path,
) -> None:
    # A white ball (clipped at full white) bounces while the exposure doubles over the shot.
    ball = Bounces(FPS, 80, (20, 38, 52, 62), size=22, rgb=(255, 255, 255))
    report = _analyse(Lit(ball, lambda index: (1.0 + index / 80, 0.0, 1.0)), tmp_path)
    assert np.allclose(report["onset_times_s"], [20 / 24, 38 / 24, 52 / 24, 62 / 24], atol=1e-3)

"""Sync: on generated videos with impacts on chosen frames, each synthesised transient starts
within one video frame of its impact. The videos are real H.264 files decoded by the real
decoder (`MediaFileSource`), as in production."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from engine_audio_checks import transient_onsets

from plugin_server.demo.media import (
    BouncingBall,
    BouncingDisc,
    Scene,
    WalkingFigure,
    write_scene_video,
)
from plugin_server.engines.base import ClipRequest
from plugin_server.engines.procedural import ProceduralEngine
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import MediaSpan

FPS_24 = Fraction(24)
FPS_25 = Fraction(25)
FPS_NTSC = Fraction(30000, 1001)
SMALL = {"width": 256, "height": 144}  # plenty for the engine's 64x36 analysis, quick to code

CASES = [
    pytest.param(BouncingDisc(FPS_24, 72, (20, 41, 60)), "ball hits a wall", id="disc-24"),
    pytest.param(BouncingDisc(FPS_25, 80, (12, 30, 44, 63)), "impact", id="disc-25"),
    pytest.param(BouncingDisc(FPS_NTSC, 90, (15, 33, 48, 70)), "hit", id="disc-29.97"),
    pytest.param(BouncingBall(FPS_24, 72, (18, 36, 50, 60)), "ball bounce", id="ball-24"),
    pytest.param(BouncingBall(FPS_NTSC, 72, (20, 38, 52)), "ball bounce", id="ball-29.97"),
    pytest.param(WalkingFigure(FPS_24, 72, (10, 22, 34, 46, 58)), "footsteps", id="walk-24"),
    pytest.param(WalkingFigure(FPS_25, 75, (9, 19, 30, 40, 51, 62)), "running", id="walk-25"),
]


def _generate(video_path: Path, start_s: float, duration_s: float, prompt: str) -> np.ndarray:
    span = MediaSpan(video_path, start_s, duration_s, 1.0, duration_s)
    request = ClipRequest("sync", MediaFileSource(span), duration_s, prompt=prompt, seed=7)
    return ProceduralEngine().generate(request).samples


@pytest.mark.parametrize(("scene", "prompt"), CASES)
def test_each_transient_lands_within_one_frame_of_its_visual_event(
    scene: Scene, prompt: str, tmp_path: Path
) -> None:
    video = write_scene_video(tmp_path / "scene.mp4", scene, **SMALL)
    samples = _generate(video.path, 0.0, video.duration_s, prompt)

    # Steps are a heel then a toe ~0.1 s later: merge those into one onset.
    onsets = transient_onsets(samples, 48_000, hold_s=0.15)
    expected = np.asarray(video.event_times_s)
    frame_s = float(1 / scene.fps)
    assert len(onsets) == len(expected), (onsets, expected)
    errors = onsets - expected
    assert np.all(np.abs(errors) <= frame_s), errors


def test_a_clip_cut_from_the_middle_of_a_file_is_timed_from_its_own_start(tmp_path: Path) -> None:
    scene = BouncingDisc(FPS_24, 96, (20, 41, 62, 83))
    video = write_scene_video(tmp_path / "long.mp4", scene, **SMALL)
    start_s = 1.0  # the clip starts on frame 24: impacts at frames 41, 62 and 83 remain
    samples = _generate(video.path, start_s, 2.75, "hit")

    onsets = transient_onsets(samples, 48_000)
    expected = np.asarray([41, 62, 83]) / 24 - start_s
    assert len(onsets) == 3, onsets
    assert np.all(np.abs(onsets - expected) <= 1 / 24), onsets - expected


def test_smooth_motion_makes_no_transient(tmp_path: Path) -> None:
    # A ball's flight tops out smoothly; only its two floor bounces may sound.
    scene = BouncingBall(FPS_24, 60, (14, 44))
    video = write_scene_video(tmp_path / "arc.mp4", scene, **SMALL)
    samples = _generate(video.path, 0.0, video.duration_s, "bounce")

    onsets = transient_onsets(samples, 48_000)
    assert len(onsets) == 2, onsets
    assert np.all(np.abs(onsets - np.asarray(video.event_times_s)) <= 1 / 24), onsets

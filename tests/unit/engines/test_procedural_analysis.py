"""Picture analysis on small grey frames: visual events on the right frames, nothing where the
motion is smooth, intensity that follows motion, whatever rate the frames come at."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from plugin_server.demo.media import (
    BouncingBall,
    BouncingDisc,
    FramesInMemory,
    Scene,
    SceneFrameSource,
    WalkingFigure,
    event_times_s,
    render_frames,
)
from plugin_server.engines.procedural.analysis import analyse_motion, analysis_spec


def _onset_errors(scene: Scene, analysis_fps: Fraction = Fraction(60)) -> np.ndarray:
    duration = float(scene.num_frames / scene.fps)
    analysis = analyse_motion(SceneFrameSource(scene), duration, clip_id="a", fps=analysis_fps)
    expected = np.asarray(event_times_s(scene))
    found = analysis.onsets.times_s
    assert len(found) == len(expected), (found, expected)
    return found - expected


@pytest.mark.parametrize(
    "scene",
    [
        BouncingDisc(Fraction(24), 90, (9, 21, 40, 52, 70, 80)),
        BouncingDisc(Fraction(25), 80, (14, 31, 46, 66)),
        BouncingBall(Fraction(30000, 1001), 90, (12, 32, 50, 66)),
        WalkingFigure(Fraction(24), 90, (8, 15, 24, 31, 40, 46, 55, 62, 70, 77, 86)),
        # The same quick steps at 50 fps, where a stop must also hold on the next pair.
        WalkingFigure(Fraction(50), 188, (17, 31, 50, 65, 83, 96, 115, 129, 146, 160, 179)),
    ],
    ids=["disc-24", "disc-25", "ball-29.97", "walk-24", "walk-50"],
)
def test_events_are_found_on_their_frame(scene: Scene) -> None:
    errors = _onset_errors(scene)
    # A picture is seen when it first appears in the 60 fps analysis stream: never early,
    # at most one analysis frame late.
    assert np.all(errors >= -1e-9)
    assert np.all(errors < 1 / 60 + 1e-9)


def test_a_slow_motion_source_is_analysed_once_per_picture() -> None:
    # 12 fps animation: each picture repeats five times at 60 fps.
    scene = BouncingDisc(Fraction(12), 48, (10, 22, 34))
    errors = _onset_errors(scene)
    assert np.all(np.abs(errors) < 1 / 60 + 1e-9)


def test_analysis_at_the_source_rate_is_exact() -> None:
    scene = BouncingDisc(Fraction(24), 72, (20, 41, 60))
    errors = _onset_errors(scene, analysis_fps=Fraction(24))
    assert np.all(np.abs(errors) < 1e-9)


def test_a_gliding_stop_and_a_ball_at_its_apex_make_no_event() -> None:
    # After its last hit the disc glides back and stops smoothly; the ball tops out twice.
    for scene in (BouncingDisc(Fraction(24), 110, (20,)), BouncingBall(Fraction(24), 80, (30, 70))):
        analysis = analyse_motion(
            SceneFrameSource(scene), float(scene.num_frames / scene.fps), clip_id="a"
        )
        assert np.allclose(analysis.onsets.times_s, event_times_s(scene), atol=1 / 60)


def test_a_still_picture_has_no_events_and_no_intensity() -> None:
    still = [np.full((72, 128), 90, np.uint8)] * 120
    analysis = analyse_motion(FramesInMemory(analysis_spec(), still, 2.0), 2.0, clip_id="a")
    assert len(analysis.onsets.times_s) == 0
    assert np.all(analysis.intensity == 0)
    assert analysis.frames_received == 120


def test_sensor_noise_alone_is_not_an_event() -> None:
    rng = np.random.default_rng(0)
    noisy = [np.clip(90 + rng.normal(0, 3, (72, 128)), 0, 255).astype(np.uint8) for _ in range(120)]
    analysis = analyse_motion(FramesInMemory(analysis_spec(), noisy, 2.0), 2.0, clip_id="a")
    assert len(analysis.onsets.times_s) == 0


def test_intensity_follows_the_amount_of_motion() -> None:
    slow = BouncingDisc(Fraction(24), 72, (60,))  # a third of the room in 2.5 s
    fast = BouncingDisc(Fraction(24), 72, (12, 24, 36, 48, 60))  # wall to wall in 0.5 s
    levels = []
    for scene in (slow, fast):
        frames = render_frames(scene, analysis_spec())
        analysis = analyse_motion(FramesInMemory(analysis_spec(), frames, 2.0), 2.0, clip_id="a")
        levels.append(float(np.mean(analysis.intensity[1:])))
    assert 0.0 < levels[0] < 0.5 * levels[1] <= 0.5

"""The synthetic demo media: files with exactly the frames, rates and event times promised."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from plugin_server.demo.media import (
    BouncingBall,
    BouncingDisc,
    FrameCounter,
    SceneFrameSource,
    WalkingFigure,
    read_frame_counter,
    write_scene_video,
)
from plugin_server.media.frames import FrameSpec


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(25), Fraction(30000, 1001)])
def test_a_video_file_has_every_frame_at_its_exact_time(fps: Fraction, tmp_path: Path) -> None:
    video = write_scene_video(tmp_path / "count.mp4", FrameCounter(fps, 30), width=160, height=90)
    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == fps
        decoded = [
            (
                float(frame.pts * stream.time_base),
                read_frame_counter(frame.to_ndarray(format="gray")),
            )
            for frame in container.decode(stream)
        ]
    assert [index for _, index in decoded] == list(range(30))
    assert np.allclose([time for time, _ in decoded], np.arange(30) / float(fps), atol=1e-3)
    assert video.duration_s == pytest.approx(30 / float(fps))
    assert list(tmp_path.iterdir()) == [video.path]  # no temporary file left behind


def test_event_times_are_frame_times() -> None:
    scene = BouncingDisc(Fraction(30000, 1001), 60, (10, 30))
    source = SceneFrameSource(scene)
    assert source.record_duration_s == pytest.approx(60 * 1001 / 30000)
    video_times = (10 * 1001 / 30000, 30 * 1001 / 30000)
    from plugin_server.demo.media import event_times_s

    assert event_times_s(scene) == pytest.approx(video_times)


def test_the_disc_touches_a_wall_exactly_on_its_impact_frames() -> None:
    scene = BouncingDisc(Fraction(24), 72, (20, 41, 60))
    right_contact, left_contact = 600 - scene.radius, 40 + scene.radius
    assert scene.disc_x(20) == pytest.approx(right_contact)
    assert scene.disc_x(41) == pytest.approx(left_contact)
    assert scene.disc_x(60) == pytest.approx(right_contact)
    assert left_contact < min(scene.disc_x(i) for i in range(72)) + 1e-9
    assert max(scene.disc_x(i) for i in range(72)) <= right_contact + 1e-9


def test_the_ball_is_on_the_floor_exactly_on_its_bounce_frames() -> None:
    scene = BouncingBall(Fraction(24), 72, (18, 36, 50, 60))
    resting_y = 300 - scene.radius
    heights = [resting_y - scene.ball_centre(i)[1] for i in range(72)]
    assert [i for i in range(1, 61) if heights[i] < 1e-9] == [18, 36, 50, 60]
    assert max(heights) == pytest.approx(scene.apex_height)


def test_a_foot_lands_on_each_step_frame_and_stays_there() -> None:
    scene = WalkingFigure(Fraction(24), 72, (10, 22, 34))
    for step, landing in enumerate(scene.step_frames):
        side = step % 2
        before = scene.foot(side, landing - 1)
        on = scene.foot(side, landing)
        after = scene.foot(side, landing + 1)
        assert before[1] > 0 and on[1] == 0 and after == on


def test_frames_in_memory_come_at_the_requested_size_and_format() -> None:
    scene = WalkingFigure(Fraction(25), 50, (10, 20))
    specs = [
        FrameSpec(Fraction(8), 96, 96, "stretch", "rgb24"),
        FrameSpec(Fraction(25), 64, 36, "cover", "gray"),
    ]
    frames = list(SceneFrameSource(scene).stream(specs))
    first = [f for f in frames if f.spec_index == 0]
    second = [f for f in frames if f.spec_index == 1]
    assert len(first) == 16 and len(second) == 50
    assert first[0].pixels.shape == (96, 96, 3) and second[0].pixels.shape == (36, 64)
    times = [f.record_time_s for f in frames]
    assert times == sorted(times)


@pytest.mark.parametrize(
    "frames",
    [(), (1,), (10, 11), (10, 80)],
    ids=["none", "too-early", "too-close", "past-the-end"],
)
def test_impossible_event_frames_are_refused(frames: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="impact_frames"):
        BouncingDisc(Fraction(24), 72, frames)

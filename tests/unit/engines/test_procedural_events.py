"""`detect_events`, the public entry point other engines use: in-memory pictures of any size,
grey or RGB, at their own rate, give contacts on their presentation times."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from procedural_scenes import Bounces, Noisy, Pendulum

from plugin_server.engines.base import EngineError
from plugin_server.engines.procedural import VisualEvent, detect_events


def _pictures(scene, width: int, height: int) -> list[np.ndarray]:
    return [scene.render(index, width, height) for index in range(scene.num_frames)]


@pytest.mark.parametrize(("fps", "size"), [(Fraction(25), (320, 180)), (Fraction(50), (200, 150))])
def test_contacts_come_back_on_their_frames(fps: Fraction, size: tuple[int, int]) -> None:
    contacts = tuple(round(f * float(fps) / 24) for f in (16, 34, 48))
    scene = Noisy(Bounces(fps, contacts[-1] + 10, contacts, shape="box", size=26))
    events = detect_events(_pictures(scene, *size), fps)
    assert [event.time_s for event in events] == pytest.approx(
        [c / fps for c in contacts], abs=1e-6
    )
    assert all(0 < event.strength <= 1 for event in events)
    assert max(event.strength for event in events) == 1.0


def test_grey_pictures_and_a_float_rate_work_the_same() -> None:
    scene = Bounces(Fraction(24), 60, (20, 40))
    grey = [picture.mean(axis=2).astype(np.uint8) for picture in _pictures(scene, 128, 72)]
    times = [event.time_s for event in detect_events(grey, 24.0)]
    assert times == pytest.approx([20 / 24, 40 / 24], abs=1e-6)


def test_motion_without_contact_has_no_events() -> None:
    # Sensor noise of 4 grey levels at 256x144 (1 level at the analysis size).
    assert detect_events(_pictures(Noisy(Pendulum(Fraction(24), 72)), 256, 144), 24) == []


def test_bad_input_is_a_typed_error() -> None:
    picture = np.zeros((36, 64), np.uint8)
    with pytest.raises(EngineError, match="no frames"):
        detect_events([], 24)
    with pytest.raises(EngineError, match="fps must be positive"):
        detect_events([picture], 0)
    with pytest.raises(EngineError, match="frame 1"):
        detect_events([picture, np.zeros((36, 65), np.uint8), picture], 24)
    with pytest.raises(EngineError, match="frame 0"):
        detect_events([picture.astype(np.float32)], 24)
    assert isinstance(VisualEvent(0.5, 1.0).time_s, float)

"""Clips generated at once on several worker threads, as the server's pool runs them: the same
audio as each clip alone, for a sustained run.

With per-clip memory tracing (tracemalloc started and stopped by each clip) four threads like
these crashed the interpreter within seconds to minutes; see test_procedural_memory.py.
"""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from plugin_server.demo.media import BouncingDisc, WalkingFigure, write_scene_video
from plugin_server.engines.base import ClipRequest
from plugin_server.engines.procedural import ProceduralEngine
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import MediaSpan

pytestmark = pytest.mark.slow  # real decodes for a sustained run

_THREADS = 4
_RUN_S = 12.0


def _request(video: Path, duration_s: float, prompt: str, speed: float) -> ClipRequest:
    span = MediaSpan(video, 0.0, duration_s, speed, duration_s / speed)
    return ClipRequest("threads", MediaFileSource(span), duration_s / speed, prompt=prompt, seed=5)


def test_concurrent_clips_sound_as_they_do_alone(tmp_path: Path) -> None:
    scenes = [
        BouncingDisc(Fraction(24), 72, (20, 41, 60)),
        WalkingFigure(Fraction(25), 75, (9, 19, 30, 40, 51, 62)),
    ]
    videos = [
        write_scene_video(tmp_path / f"{index}.mp4", scene, width=256, height=144)
        for index, scene in enumerate(scenes)
    ]
    jobs = [
        (video.path, video.duration_s, prompt, speed)
        for video in videos
        for prompt in ("footsteps", "rain and a door slam")
        for speed in (1.0, 2.0)
    ]
    engine = ProceduralEngine()
    alone = [engine.generate(_request(*job)).samples for job in jobs]

    failures: list[str] = []
    done = [0] * _THREADS
    stop_at = time.monotonic() + _RUN_S

    def worker(slot: int) -> None:
        own = ProceduralEngine()
        index = slot
        while time.monotonic() < stop_at and not failures:
            job = jobs[index % len(jobs)]
            samples = own.generate(_request(*job)).samples
            if not np.array_equal(samples, alone[index % len(jobs)]):
                failures.append(f"{job}: differs from the clip generated alone")
            done[slot] += 1
            index += _THREADS + 1

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=_RUN_S + 60)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures
    assert min(done) >= 3, done  # every thread ran clips the whole time

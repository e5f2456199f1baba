"""The procedural engine's memory figure: never traced inside a worker, an honest upper bound.

`tracemalloc.start()`/`stop()` called per clip from worker threads crashed the server under
concurrent clips (CPython 3.11, gh-128679: a thread allocating without the GIL while another
stops tracing). The engine now reports an estimate from the clip's size; here a process of its
own traces the real peak and the estimate is held against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc
from fractions import Fraction

from plugin_server.demo.media import BouncingDisc, FramesInMemory, render_frames
from plugin_server.engines.base import ClipRequest
from plugin_server.engines.procedural import ProceduralEngine
from plugin_server.engines.procedural.analysis import analysis_spec

_FIXED_MIB = 8

# Traced in a fresh interpreter that runs nothing else, so tracing is safe and counts this
# clip alone. Prints one JSON line per clip: traced peak and the engine's estimate.
_MEASURE = textwrap.dedent(
    """
    import json, sys, tracemalloc
    from fractions import Fraction
    from plugin_server.demo.media import WalkingFigure, FramesInMemory, render_frames
    from plugin_server.engines.base import ClipRequest
    from plugin_server.engines.procedural import ProceduralEngine
    from plugin_server.engines.procedural.analysis import analysis_spec

    engine = ProceduralEngine()
    spec = analysis_spec()
    for seconds in (2.0, 10.0, 30.0):
        count = int(seconds * 24)
        scene = WalkingFigure(Fraction(24), count, tuple(range(8, count - 3, 10)))
        frames = render_frames(scene, spec, seconds)
        for prompt in ("footsteps", "rain", "storm", "a dog barking", "fire and wind"):
            for picture in (True, False):
                source = FramesInMemory(spec, frames, seconds) if picture else None
                request = ClipRequest("m", source, seconds, prompt=prompt, seed=1)
                tracemalloc.start()
                report = engine.generate(request).report
                traced = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                print(json.dumps({
                    "clip": f"{prompt} {seconds:g}s picture={picture}",
                    "traced": traced,
                    "estimated": report.peak_memory_bytes,
                }))
    """
)


def test_generating_never_starts_memory_tracing() -> None:
    scene = BouncingDisc(Fraction(24), 48, (20,))
    frames = render_frames(scene, analysis_spec(), 2.0)
    seen: list[bool] = []
    request = ClipRequest(
        "clip-1", FramesInMemory(analysis_spec(), frames, 2.0), 2.0, prompt="hit", seed=1
    )
    assert not tracemalloc.is_tracing()
    ProceduralEngine().generate(
        request, progress=lambda stage, percent: seen.append(tracemalloc.is_tracing())
    )
    assert len(seen) >= 4  # both stages reported, from start to end
    assert not any(seen)


def test_the_estimate_bounds_the_traced_peak() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE], capture_output=True, text=True, timeout=300, check=True
    )
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 30
    for row in rows:
        traced, estimated = row["traced"], row["estimated"]
        assert estimated >= traced, row
        assert estimated <= 3.5 * traced + _FIXED_MIB * 2**20, row

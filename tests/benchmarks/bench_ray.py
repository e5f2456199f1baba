"""Benchmark: clips per second through the ray executor with 1, 2 and 4 CPU actors, and the
scheduling overhead Ray adds per clip.

A local Ray cluster (`--cpus` logical CPUs) runs one job of `--clips` short clips (procedural
engine, `--clip-frames` frames at 24 fps of a small placeholder video), for each actor count and
for the local executor with one worker as the baseline. Every configuration first runs a warm-up
job (actors started, engines loaded: what a long-running server has), then the timed job
`--repeat` times; the best wall time is kept. The scheduling overhead is measured with an engine
that returns silence at once, so that the work is nothing but the pipeline's: (one Ray actor's
job time - the local executor's) / clips is what Ray adds per clip (dispatch, progress polling,
the result's trip through the object store). Results go to results/ray.json naming the CPU.

On a machine with fewer cores than actors the extra actors only share the cores: read the
clips-per-second figures against `device.cores`.

    .venv/bin/python tests/benchmarks/bench_ray.py [--clips 24] [--repeat 3]
"""

from __future__ import annotations

import os

# One thread per worker process, for real: set before numpy/scipy load their thread pools.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import opentimelineio as otio  # noqa: E402
import ray  # noqa: E402

from plugin_server.demo.media import BouncingDisc, write_scene_video  # noqa: E402
from plugin_server.engines.base import (  # noqa: E402
    CancelToken,
    ClipAudio,
    ClipRequest,
    Engine,
    EngineInfo,
    EngineReport,
    ProgressCallback,
)
from plugin_server.engines.registry import EngineConfig, create_engine  # noqa: E402
from plugin_server.executors import ExecutorSettings, RaySettings  # noqa: E402
from plugin_server.pipeline.local import LocalRun  # noqa: E402
from plugin_server.pipeline.request import GenerationRequest  # noqa: E402
from plugin_server.planning.device import cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ray.json"
FPS = 24
ACTOR_COUNTS = (1, 2, 4)
REQUEST = GenerationRequest(prompt="footsteps", use_cache=False)


class SilentEngine:
    """Silence at once: a clip's cost is then only the pipeline's. Sent to the actors by value
    (this script is __main__)."""

    name = "procedural"

    def info(self) -> EngineInfo:
        return EngineInfo(name=self.name, model="silence", available=True)

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        report = EngineReport(self.name, "silence", {}, 0, {})
        return ClipAudio(np.zeros(request.num_samples, np.float32), request.sample_rate, report)


def silent_factory(name: str, config: EngineConfig) -> Engine:
    return SilentEngine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24, help="clips per job (default 24)")
    parser.add_argument("--clip-frames", type=int, default=12, help="frames per clip (12 = 0.5 s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed jobs per setting; best kept")
    parser.add_argument("--cpus", type=int, default=4, help="logical CPUs of the local cluster")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    timeline = _timeline(folder, args.clips, args.clip_frames)
    ray.init(
        address="local",
        num_cpus=args.cpus,
        object_store_memory=100 << 20,
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        started = time.perf_counter()
        baseline = _job_seconds(None, create_engine, timeline, folder, args.repeat)
        throughput = [
            {
                "executor": "local",
                "workers": 1,
                "job_s": round(baseline, 4),
                "clips_per_s": round(args.clips / baseline, 2),
            }
        ]
        print(f"local, 1 worker: {args.clips / baseline:.1f} clips/s")
        for actors in ACTOR_COUNTS:
            settings = ExecutorSettings("ray", RaySettings(actors=actors))
            seconds = _job_seconds(settings, create_engine, timeline, folder, args.repeat)
            throughput.append(
                {
                    "executor": "ray",
                    "actors": actors,
                    "job_s": round(seconds, 4),
                    "clips_per_s": round(args.clips / seconds, 2),
                    "speed_up_vs_1_actor": None,
                }
            )
            print(f"ray, {actors} actor(s): {args.clips / seconds:.1f} clips/s")
        one_actor = throughput[1]["job_s"]
        for row in throughput[1:]:
            row["speed_up_vs_1_actor"] = round(one_actor / row["job_s"], 2)

        overhead = {}
        for results in ("object-store", "shared-storage"):
            settings = ExecutorSettings("ray", RaySettings(actors=1, results=results))
            local_s = _job_seconds(None, silent_factory, timeline, folder, args.repeat)
            ray_s = _job_seconds(settings, silent_factory, timeline, folder, args.repeat)
            overhead[results] = {
                "local_job_s": round(local_s, 4),
                "ray_job_s": round(ray_s, 4),
                "overhead_per_clip_ms": round(1000 * (ray_s - local_s) / args.clips, 2),
            }
            print(f"overhead via {results}: {overhead[results]['overhead_per_clip_ms']} ms/clip")
        total_s = time.perf_counter() - started
    finally:
        ray.shutdown()

    document = {
        "benchmark": "ray executor: clips per second by actor count, scheduling overhead per clip",
        "timing": "best of `repeat` jobs after a warm-up job per setting (actors started, "
        "engines loaded); overhead = (1 Ray actor - local executor, 1 worker) / clips with an "
        "engine that returns silence at once",
        "device": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "cluster_logical_cpus": args.cpus,
            "machine": platform.machine(),
            "python": platform.python_version(),
            "ray": ray.__version__,
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        "job": {
            "clips": args.clips,
            "clip_seconds": args.clip_frames / FPS,
            "engine": "procedural",
            "source": "64x36 H.264 placeholder, 24 fps",
            "results_transport": "object-store",
        },
        "repeat": args.repeat,
        "throughput": throughput,
        "scheduling_overhead": overhead,
        "benchmark_wall_s": round(total_s, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def _job_seconds(
    settings: ExecutorSettings | None,
    factory: Callable[[str, EngineConfig], Engine],
    timeline: Path,
    folder: Path,
    repeat: int,
) -> float:
    """Best wall time of `repeat` jobs of `timeline`, after a warm-up job."""
    with LocalRun(
        engine_config=EngineConfig(device="cpu"),
        engine_factory=factory,
        device="cpu",
        workers=1,
        executor=settings,
    ) as run:
        times = []
        for attempt in range(repeat + 1):
            out = Path(tempfile.mkdtemp(dir=folder))
            started = time.perf_counter()
            result = run.generate(
                timeline, REQUEST, output=out / "result.otio", audio_dir=out / "audio"
            )
            elapsed = time.perf_counter() - started
            if result.summary.clips_generated != result.summary.clips_total:
                raise RuntimeError(f"the benchmark job failed: {result.summary}")
            if attempt:  # the first job is the warm-up
                times.append(elapsed)
    return min(times)


def _timeline(folder: Path, clips: int, clip_frames: int) -> Path:
    frames = clips + clip_frames + FPS
    scene = BouncingDisc(
        fps=Fraction(FPS), num_frames=frames, impact_frames=tuple(range(12, frames - 1, FPS))
    )
    media = write_scene_video(folder / "shot.mov", scene, width=64, height=36).path
    track = otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video)
    for index in range(clips):
        track.append(
            otio.schema.Clip(
                name=f"shot{index:03d}",
                media_reference=otio.schema.ExternalReference(target_url=media.as_uri()),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(index, FPS),
                    otio.opentime.RationalTime(clip_frames, FPS),
                ),
            )
        )
    timeline = otio.schema.Timeline(name="bench")
    timeline.tracks.append(track)
    path = folder / "bench.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


if __name__ == "__main__":
    raise SystemExit(main())

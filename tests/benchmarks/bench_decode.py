"""Decode benchmark: MediaFileSource against the ffmpeg command line and against decoding alone.

The job is the HunyuanVideo-Foley engine's: a 1920x1080 H.264 clip to 8 fps at 512x512
(stretch, rgb24) plus 25 fps at 224x224 (cover, rgb24), both from one pass. Measured side by
side, each in its own process (so peak RSS is per run), best wall time of `--repeats`:

- `ffmpeg`: the CLI with split, fps and scale (+crop) filters to raw RGB, to /dev/null;
- `decode_only`: PyAV decoding every frame and converting nothing (the floor);
- `naive`: PyAV decoding, then `reformat` of every frame for each consumer;
- `media_file_source`: this project's decoder, streaming Frames to a consumer that drops them.

Peak RSS of `media_file_source` is also measured on 10 s and 120 s clips (flatness). Results go
to tests/benchmarks/results/decode.json with the CPU name.

    .venv/bin/python tests/benchmarks/bench_decode.py [--seconds 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from plugin_server.planning.device import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "decode.json"
SPECS = (
    ("8 fps 512x512 stretch rgb24", 8, 512, 512, "stretch"),
    ("25 fps 224x224 cover rgb24", 25, 224, 224, "cover"),
)


def make_clip(path: Path, seconds: float) -> None:
    """1080p30 H.264 with moving detail and light grain, so decoding is realistic."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=30,noise=alls=1:allf=t",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "60",
            str(path),
        ],
        check=True,
    )


def run_ffmpeg(clip: Path) -> None:
    graph = (
        "[0:v]split=2[a][b];"
        "[a]fps=8,scale=512:512,format=rgb24[o1];"
        "[b]fps=25,scale=398:224,crop=224:224,format=rgb24[o2]"
    )
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(clip),
            "-filter_complex",
            graph,
            "-map",
            "[o1]",
            "-f",
            "rawvideo",
            "-y",
            "/dev/null",
            "-map",
            "[o2]",
            "-f",
            "rawvideo",
            "-y",
            "/dev/null",
        ],
        check=True,
    )


def run_decode_only(clip: Path) -> int:
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def run_naive(clip: Path) -> int:
    import av

    count = 0
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.reformat(512, 512, "rgb24").to_ndarray()
            frame.reformat(398, 224, "rgb24").to_ndarray()[:, 87:311]
            count += 2
    return count


def run_media_file_source(clip: Path, seconds: float) -> int:
    from plugin_server.media.decode import MediaFileSource
    from plugin_server.media.frames import FrameSpec, MediaSpan

    specs = [FrameSpec(Fraction(fps), w, h, fit) for _, fps, w, h, fit in SPECS]
    source = MediaFileSource(MediaSpan(clip, 0.0, seconds, 1.0, seconds))
    return sum(1 for _ in source.stream(specs))


def worker(mode: str, clip: Path, seconds: float) -> None:
    """Run one measurement in this process and print it as JSON."""
    start, cpu = time.perf_counter(), time.process_time()
    if mode == "ffmpeg":
        run_ffmpeg(clip)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s, rss_kb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
        outputs = None
    else:
        outputs = {
            "decode_only": run_decode_only,
            "naive": run_naive,
            "media_file_source": lambda c: run_media_file_source(c, seconds),
        }[mode](clip)
        cpu_s = time.process_time() - cpu
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {"wall_s": wall, "cpu_s": cpu_s, "peak_rss_mb": rss_kb / 1024, "outputs": outputs}
        )
    )


def measure(mode: str, clip: Path, seconds: float, repeats: int) -> dict[str, object]:
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                mode,
                "--clip",
                str(clip),
                "--seconds",
                str(seconds),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda run: run["wall_s"])
    return {
        "wall_s": round(best["wall_s"], 3),
        "cpu_s": round(best["cpu_s"], 3),
        "peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs), 1),
        "all_wall_s": [round(run["wall_s"], 3) for run in runs],
        "outputs": best["outputs"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clip", type=Path, help="use this 1080p clip instead of generating one")
    parser.add_argument(
        "--flatness",
        default="10,120",
        help="clip lengths (s) for the RSS flatness check; empty to skip",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.clip, args.seconds)
        return 0
    if shutil.which("ffmpeg") is None:
        print("needs the ffmpeg command line (apt-get install -y ffmpeg)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as folder:
        clip = args.clip or Path(folder) / "clip.mp4"
        if args.clip is None:
            make_clip(clip, args.seconds)
        results = {
            mode: measure(mode, clip, args.seconds, args.repeats)
            for mode in ("ffmpeg", "decode_only", "naive", "media_file_source")
        }
        flatness = {}
        for seconds in [float(s) for s in args.flatness.split(",") if s]:
            long_clip = Path(folder) / f"clip_{seconds:g}.mp4"
            make_clip(long_clip, seconds)
            flatness[f"{seconds:g}s"] = measure("media_file_source", long_clip, seconds, 1)
            long_clip.unlink()

    ffmpeg_wall = results["ffmpeg"]["wall_s"]
    decode_wall = results["decode_only"]["wall_s"]
    ours = results["media_file_source"]["wall_s"]
    report = {
        "benchmark": "decode 1920x1080 H.264 to 8 fps 512x512 + 25 fps 224x224",
        "clip_seconds": args.seconds,
        "specs": [name for name, *_ in SPECS],
        "device": {
            "cpu": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "python": platform.python_version(),
            "pyav": __import__("av").__version__,
            "ffmpeg_cli": subprocess.run(
                ["ffmpeg", "-version"], capture_output=True, text=True
            ).stdout.splitlines()[0],
        },
        "results": results,
        "ratios": {
            "media_file_source_vs_ffmpeg": round(ours / ffmpeg_wall, 3),
            "media_file_source_vs_decode_only": round(ours / decode_wall, 3),
            "naive_vs_ffmpeg": round(results["naive"]["wall_s"] / ffmpeg_wall, 3),
            "decode_only_vs_ffmpeg": round(decode_wall / ffmpeg_wall, 3),
            # CPU seconds: meaningful where the machine is shared and wall time is noisy.
            "cpu_media_file_source_vs_ffmpeg": round(
                results["media_file_source"]["cpu_s"] / results["ffmpeg"]["cpu_s"], 3
            ),
            "cpu_media_file_source_vs_decode_only": round(
                results["media_file_source"]["cpu_s"] / results["decode_only"]["cpu_s"], 3
            ),
        },
        "targets": {
            "media_file_source_vs_ffmpeg_at_most": 0.4,
            "media_file_source_vs_decode_only_at_most": 1.5,
            "peak_rss_mb_below": 400,
        },
        "rss_flatness": flatness,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratios"], indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

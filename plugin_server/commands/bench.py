"""`foley-server bench --json OUT`: every preset through the whole pipeline, measured.

Runs a synthetic clip (30 s of 1920x1080 by default) through the hunyuan engine for each
built-in preset and each single-parameter change from `default`, and writes the JSON document
and a PNG chart beside it (OUT with .png). Random weights: tiny and small are written to a
temporary folder; xl and xxl need `--weights DIR` (their random weights would be 10-20 GB).

`--predict` writes the planner's predictions instead of measuring (for a device or model not at
hand, e.g. `--model-size xxl --device h100`). `--calibrate DOC...` refits the planner's
constants for the documents' device kind from measured documents and writes calibration.json.
Exit status: 0 on success, 2 for unusable options.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_SIZES = ("tiny", "small", "xl", "xxl")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="where to write the JSON document")
    parser.add_argument("--model-size", choices=MODEL_SIZES, default="small")
    parser.add_argument("--duration", type=float, default=30.0, help="clip seconds (default 30)")
    parser.add_argument(
        "--height", type=int, default=1080, help="clip height; width is 16:9 (default 1080)"
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, cuda[:N]; with --predict also h100 (a nominal 80 GB H100)",
    )
    parser.add_argument("--weights", type=Path, help="weights directory (required for xl, xxl)")
    parser.add_argument(
        "--case",
        action="append",
        default=[],
        help="run only this case (repeatable), e.g. default or diffusion_timesteps=25",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1: shared machines)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per case; the fastest is kept (default 1)"
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument(
        "--predict", action="store_true", help="write the planner's predictions, measure nothing"
    )
    parser.add_argument(
        "--calibrate",
        type=Path,
        nargs="+",
        metavar="DOC",
        help="refit calibration.json from these measured documents (runs nothing else)",
    )
    parser.add_argument(
        "--calibration-file",
        type=Path,
        help="the calibration file --calibrate rewrites (default: the package's own)",
    )


def run(args: argparse.Namespace) -> int:
    from plugin_server.planning.bench import BenchError
    from plugin_server.planning.calibrate import CalibrationFitError
    from plugin_server.planning.device import DeviceError

    try:
        if args.calibrate:
            return _calibrate(args.calibrate, args.calibration_file)
        if args.json is None:
            raise BenchError("--json OUT is required (where the results go)")
        return _bench(args)
    except (BenchError, CalibrationFitError, DeviceError, ValueError) as error:
        print(f"foley-server bench: {error}", file=sys.stderr)
        return 2


def _bench(args: argparse.Namespace) -> int:
    import torch

    from plugin_server.planning.bench import (
        BenchClip,
        BenchError,
        bench_cases,
        predicted_document,
        run_benchmark,
    )
    from plugin_server.planning.device import H100_80GB, probe_device
    from plugin_server.planning.model_dims import model_dims

    if not args.duration > 0:
        raise BenchError(f"--duration must be positive, got {args.duration}")
    if args.height < 16 or args.height % 2:
        raise BenchError(f"--height must be even and at least 16, got {args.height}")
    torch.set_num_threads(max(1, args.threads))
    width = round(args.height * 16 / 9 / 2) * 2
    cases = bench_cases(args.case)
    if args.predict:
        device = H100_80GB if args.device == "h100" else probe_device(args.device)
        clip = BenchClip(Path("synthetic"), args.duration, width, args.height)
        document = predicted_document(
            cases, clip, device, model_dims(args.model_size), args.model_size
        )
        return _write(document, args)
    device = probe_device(args.device)
    with tempfile.TemporaryDirectory(prefix="foley-bench-") as scratch:
        folder = Path(scratch)
        weights = _weights(args, folder)
        clip = _clip(folder, args.duration, width, args.height)

        def progress(result) -> None:  # type: ignore[no-untyped-def]
            print(
                f"{result.case.name:34s} peak {result.peak_memory_bytes / 2**20:9.1f} MiB "
                f"(predicted {result.predicted_peak_memory_bytes / 2**20:9.1f}) "
                f"{result.wall_s:8.1f} s",
                flush=True,
            )

        document = run_benchmark(
            cases,
            clip,
            weights,
            device,
            model_size=args.model_size,
            on_result=progress,
            repeat=max(1, args.repeat),
        )
    return _write(document, args)


def _weights(args: argparse.Namespace, folder: Path) -> Path:
    from dataclasses import asdict

    from plugin_server.planning.bench import BenchError
    from plugin_server.planning.model_dims import RANDOM_MODELS

    if args.weights is not None:
        return Path(args.weights)
    if args.model_size not in RANDOM_MODELS:
        raise BenchError(
            f"--model-size {args.model_size} needs --weights DIR (the release, or random weights "
            "of that size written with `foley-server weights`); only "
            f"{', '.join(RANDOM_MODELS)} are generated here"
        )
    from plugin_server.engines.hunyuan.tiny_weights import TinySpec, write_tiny_weights

    spec = TinySpec(**asdict(RANDOM_MODELS[args.model_size]))
    root = folder / f"weights-{args.model_size}"
    write_tiny_weights(root, seed=0, spec=spec)
    return root


def _clip(folder: Path, duration_s: float, width: int, height: int):  # type: ignore[no-untyped-def]
    from plugin_server.planning.bench import BenchClip
    from plugin_server.planning.synthetic_video import write_synthetic_video

    video = write_synthetic_video(
        folder / "clip.mp4", duration_s=duration_s, width=width, height=height
    )
    return BenchClip(video, duration_s, width, height)


def _write(document: dict, args: argparse.Namespace) -> int:  # type: ignore[type-arg]
    from plugin_server.planning.bench_chart import write_chart

    path: Path = args.json
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    print(f"wrote {path}")
    if not args.no_chart:
        print(f"wrote {write_chart(document, path.with_suffix('.png'))}")
    from plugin_server.planning.bench import summary_table

    print(summary_table(document))
    for line in document["findings"]:
        print(line)
    return 0


def _calibrate(paths: list[Path], target: Path | None) -> int:
    from plugin_server.planning.calibrate import assumed_cuda, fit_calibration, load_documents
    from plugin_server.planning.calibration import (
        CALIBRATION_FILE,
        load_calibration,
        write_calibration,
    )

    documents = load_documents(paths)
    calibration = fit_calibration(documents, [str(path) for path in paths])
    target = target or CALIBRATION_FILE
    write_calibration(calibration, target)
    print(f"wrote {calibration.kind} constants to {target}: {calibration.source}")
    if calibration.kind == "cpu":
        cuda = assumed_cuda(calibration, load_calibration("cuda", target))
        if cuda is not None:
            write_calibration(cuda, target)
            print(f"copied the CPU memory constants to the assumed cuda section of {target}")
    return 0

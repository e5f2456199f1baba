"""The lent-GPU measurement of issue 13: the full XXL at random weights, every placement.

One prepared run (plus a rerun that resumes). On the device:

    bash tests/benchmarks/gpu_xxl.sh        # = --size xxl --device cuda --work /tmp/gpu_xxl

and here, on the CPU, the same script end to end with the tiny model (the dry run):

    .venv/bin/python tests/benchmarks/gpu_xxl.py --size tiny --device cpu --seconds 2 \\
        --steps 2 --work /tmp/gpu_xxl_dry --out /tmp/gpu_xxl_dry/out

What it does:

1. Writes random weights at the published sizes (BF16 transformer, about 10 GB; once: a
   `.complete` marker makes a rerun reuse them) under `--work`.
2. Runs each case in its own process, most important first (`CASES`), and appends each
   result as one JSON line to `--work/results.jsonl` and to `--out/results.jsonl` as soon as
   it exists. A case already in `--work/results.jsonl` is skipped, so a second call resumes
   where the first stopped. No case is started when less than its expected time remains of
   `--budget-s`; each has a timeout.
3. Frames come from `SyntheticFrames` (a box sweeping over a gradient, rendered at the sizes
   the encoders ask for): no decoder, so no PyAV on the device. Decoding 1080p is measured on
   the CPU apart (tests/benchmarks/bench_decode.py).
4. Finally compares the saved audio: streamed and offloaded runs against the resident one
   (bit-identical expected), FP8 against BF16 on the same noise.

Per case: peak device memory (`max_memory_allocated` and `max_memory_reserved` over the
clip), wall time per stage, load time, the planner's prediction, the settings that ran, the
engine's notes; capped `auto` runs also `cap_bytes`, the preset chosen and the fallback steps.
tests/benchmarks/gpu_xxl_collect.py turns the JSON lines into
tests/benchmarks/results/gpu_xxl.json and refits the CUDA calibration.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from plugin_server.media.frames import Frame, FrameSpec  # noqa: E402

log = logging.getLogger("gpu_xxl")

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Case:
    """One run: a preset with overrides, or `auto` under a memory cap (GiB on the device)."""

    name: str
    preset: str
    overrides: dict[str, Any] = field(default_factory=dict)
    _: KW_ONLY
    cap_gib: float | None = None
    expected_s: float = 60.0  # rough wall time on an H100-class GPU, for the budget
    priority: int = 5  # lower runs first when time is short (CASES' order is the run order)


STREAM = {"encoder_offload": True, "stream_blocks": 2}
CASES: tuple[Case, ...] = (
    Case("reference", "reference", expected_s=45, priority=0),
    Case(
        "reference+encoder_offload",
        "reference",
        {"encoder_offload": True},
        expected_s=45,
        priority=1,
    ),
    Case("reference+streamed", "reference", STREAM, expected_s=90, priority=1),
    Case(
        "extreme+streamed+fp8",
        "extreme",
        {**STREAM, "fp8_weights": True, "placement": "manual"},
        expected_s=60,
        priority=1,
    ),
    Case("reference+fp8", "reference", {"fp8_weights": True}, expected_s=45, priority=3),
    Case("light", "light", expected_s=45, priority=2),
    Case("auto@8GB", "auto", cap_gib=8, expected_s=100, priority=2),
    Case("auto@12GB", "auto", cap_gib=12, expected_s=100, priority=2),
    Case("reference+compile", "reference", {"torch_compile": True}, expected_s=150, priority=4),
    Case("reference+attention_math", "reference", {"attention": "math"}, expected_s=60, priority=4),
    Case("auto@16GB", "auto", cap_gib=16, expected_s=90, priority=5),
    Case("auto@24GB", "auto", cap_gib=24, expected_s=60, priority=5),
    Case("default", "default", expected_s=150, priority=3),
)
"""Run in this order, `default` (FP32, 100 steps) last as the issue orders them; when time runs
short a case is skipped if it would leave too little for the more important ones after it
(the 16 and 24 GB caps go first, then compile and math attention)."""


def _too_late(case: Case, later: Sequence[Case], remaining: float) -> bool:
    """Whether `case` must be skipped to leave time for the more important cases after it."""
    needed = sum(c.expected_s for c in later if c.priority < case.priority)
    return remaining < case.expected_s + needed


COMPARISONS = (
    # (case, against, what is expected)
    ("reference+encoder_offload", "reference", "bit-identical"),
    ("reference+streamed", "reference", "bit-identical"),
    ("reference+fp8", "reference", "FP8 blocks vs BF16, same noise"),
    ("reference+compile", "reference", "torch.compile vs eager"),
    ("reference+attention_math", "reference", "math attention vs SDPA"),
)


class SyntheticFrames:
    """A FrameSource without a decoder: a bright box sweeping over a horizontal gradient,
    rendered directly at each spec's size and rate, merged in record-time order."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s

    @property
    def record_duration_s(self) -> float:
        return self.duration_s

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        streams = [self._frames(index, spec) for index, spec in enumerate(specs)]
        return heapq.merge(*streams, key=lambda frame: (frame.record_time_s, frame.spec_index))

    def _frames(self, spec_index: int, spec: FrameSpec) -> Iterator[Frame]:
        fps = float(Fraction(spec.fps))
        count = max(1, math.ceil(self.duration_s * fps - 1e-3))
        ramp = np.linspace(40, 200, spec.width, dtype=np.float32)[None, :, None]
        background = np.broadcast_to(ramp, (spec.height, spec.width, 3)).astype(np.uint8)
        box = max(1, spec.width // 8)
        for index in range(count):
            time_s = index / fps
            pixels = background.copy()
            left = int((time_s / max(self.duration_s, 1e-6)) * (spec.width - box))
            top = spec.height // 3
            pixels[top : top + spec.height // 3, left : left + box] = (250, 230, 60)
            if spec.pixel_format == "gray":
                pixels = pixels.mean(axis=2).astype(np.uint8)
            yield Frame(spec_index, index, time_s, pixels)


# ---------------------------------------------------------------------------------------------
# The weights


def ensure_weights(work: Path, size: str) -> Path:
    """The random weights directory under `work`, written once (a `.complete` marker)."""
    from plugin_server.engines.hunyuan.tiny_weights import TinySpec, write_tiny_weights

    root = work / f"weights_{size}"
    if (root / ".complete").exists():
        return root
    started = time.perf_counter()
    if size == "xxl":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_hunyuan_presets import _full_spec

        spec, encoders = _full_spec()
        write_tiny_weights(root, spec=spec, encoders=encoders, transformer_dtype=torch.bfloat16)
    else:
        write_tiny_weights(root, spec=TinySpec())
    (root / ".complete").write_text(f"{time.perf_counter() - started:.1f} s\n", encoding="utf-8")
    log.info("wrote %s weights to %s in %.1f s", size, root, time.perf_counter() - started)
    return root


# ---------------------------------------------------------------------------------------------
# One case, in its own process


def _model_dims(size: str) -> Any:
    from plugin_server.planning.model_dims import MODEL_SIZES, RANDOM_MODELS

    return MODEL_SIZES["xxl"] if size == "xxl" else RANDOM_MODELS["tiny"].dims("tiny")


def _capacity(args: argparse.Namespace, cap_bytes: int | None) -> Any:
    """The device as the planner sees it; a cap applied as the device would apply it."""
    from plugin_server.planning.device import DeviceCapacity, probe_device

    if args.device.startswith("cuda"):
        if cap_bytes is not None:
            total = torch.cuda.get_device_properties(0).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, cap_bytes / total), 0)
        return probe_device(args.device)
    if cap_bytes is None:
        return probe_device("cpu")
    # The CPU dry run: a GPU of the cap's size, its memory enforced by the planner's guard.
    return DeviceCapacity("cuda:0", "dry run: injected ceiling", cap_bytes, cap_bytes, (9, 0))


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    from plugin_server.engines.base import ClipRequest
    from plugin_server.engines.registry import EngineConfig
    from plugin_server.planning.auto import choose_preset, fit_placement
    from plugin_server.planning.bench import BenchCase, BenchClip, BenchResult, fill_stages
    from plugin_server.planning.ceiling import MEMORY_CEILING_OPTION
    from plugin_server.planning.fallback import OomFallbackEngine
    from plugin_server.planning.loaded_dims import engine_dims
    from plugin_server.planning.measure import StageMeter
    from plugin_server.planning.planner import estimate_clip
    from plugin_server.planning.wiring import wired_engine
    from plugin_server.presets import load_preset
    from plugin_server.presets.settings import GenerationSettings

    case = next(c for c in CASES if c.name == args.child)
    torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    cap_bytes = None if case.cap_gib is None else int(case.cap_gib * args.cap_unit)
    capacity = _capacity(args, cap_bytes)
    dims = _model_dims(args.size)
    reason = ""
    if case.preset == "auto":
        choice = choose_preset(args.seconds, dims, capacity)
        chosen, settings, reason = choice.preset, choice.settings, choice.reason
    else:
        chosen = case.preset
        settings = load_preset(case.preset).settings.with_overrides(case.overrides, case.name)
    if args.steps is not None:
        settings = replace(settings, diffusion_timesteps=args.steps)
    if settings.placement != "manual":
        placed = fit_placement(settings, args.seconds, dims, capacity)
        settings, reason = placed.settings, placed.reason
    options: dict[str, Any] = {}
    if not cuda:
        options["emulate_fp8"] = True  # the dry run exercises the FP8 path
        options["compile_backend"] = "eager"  # no C++ toolchain needed
        if cap_bytes is not None:
            options[MEMORY_CEILING_OPTION] = cap_bytes
    engine = wired_engine("hunyuan", EngineConfig(args.weights, args.device, options))

    meter = StageMeter("cuda" if cuda else "cpu")
    meter.start()
    meter.progress("load", 0.0)
    started = time.perf_counter()
    engine.loaded_models(settings)  # type: ignore[attr-defined]
    load_s = time.perf_counter() - started
    loaded = engine_dims(engine)

    def predict(s: GenerationSettings, seconds: float) -> Any:
        return estimate_clip(seconds, s, loaded, capacity if cuda else "cuda")

    wrapped = OomFallbackEngine(engine, predict=predict)
    request = ClipRequest(
        case.name, SyntheticFrames(args.seconds), args.seconds, "footsteps on gravel", seed=1,
        settings=settings,
    )  # fmt: skip
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    audio = wrapped.generate(request, progress=meter.progress)
    if cuda:
        torch.cuda.synchronize()
    wall_s = time.perf_counter() - started
    measured = meter.finish()
    report = audio.report
    attempts = report.parameters["fallback_attempts"]
    final = GenerationSettings(**attempts[-1]["settings"])
    clip = BenchClip(Path("synthetic"), args.seconds, args.width, args.height)
    bench = BenchResult(BenchCase(case.name, final), device=args.device)
    fill_stages(bench, measured, BenchCase(case.name, final), clip, loaded, capacity)
    audio_path = args.work / "audio" / f"{case.name}.npy"
    audio_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(audio_path, audio.samples)
    result: dict[str, Any] = {
        "case": case.name,
        "preset": case.preset,
        "chosen_preset": chosen,
        "choice": reason,
        "device": args.device,
        "device_name": _device_name(args.device),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "clip": {"seconds": args.seconds, "width": args.width, "height": args.height, "fps": 25},
        # CUDA: the allocator's peak over the clip; CPU: the largest stage's resident-set rise.
        "peak_memory_bytes": int(torch.cuda.max_memory_allocated())
        if cuda
        else bench.peak_memory_bytes,
        "peak_memory_kind": "cuda max_memory_allocated" if cuda else "process peak RSS rise",
        "peak_reserved_bytes": int(torch.cuda.max_memory_reserved()) if cuda else None,
        "engine_peak_memory_bytes": report.peak_memory_bytes,
        "wall_s": round(wall_s, 3),
        "load_s": round(load_s, 3),
        "stage_seconds": {k: round(v, 4) for k, v in report.stage_seconds.items()},
        "compile_seconds": report.parameters.get("compile_seconds"),
        "streamed_bytes": report.parameters.get("streamed_bytes"),
        "placement": report.parameters.get("placement"),
        "predicted_peak_bytes": bench.predicted_peak_memory_bytes,
        "predicted_s": round(bench.predicted_s, 3),
        "host_to_device_bytes_per_second": getattr(
            capacity, "host_to_device_bytes_per_second", None
        ),
        "settings": final.to_dict(),
        "fallback_steps": [a["step"] for a in attempts[1:]],
        "fallback_attempts": attempts,
        "stages": bench.stages,
        "notes": list(report.notes),
        "audio": str(audio_path),
        "audio_samples": int(audio.samples.shape[0]),
    }
    if cap_bytes is not None:
        result["cap_bytes"] = cap_bytes
    return result


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    from plugin_server.planning.device import cpu_model

    return cpu_model()


# ---------------------------------------------------------------------------------------------
# The parent: weights, cases in order, results as they come


def _done(results: Path) -> set[str]:
    if not results.exists():
        return set()
    names = set()
    for line in results.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        if record and "error" not in record:  # a failed case runs again on the next call
            names.add(record["case"])
    return names


def _append(record: dict[str, Any], *paths: Path) -> None:
    line = json.dumps(record) + "\n"
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def compare_audio(work: Path) -> list[dict[str, Any]]:
    """Each comparison whose two cases both have audio: max abs and relative std difference."""
    rows = []
    for case, against, what in COMPARISONS:
        a, b = work / "audio" / f"{case}.npy", work / "audio" / f"{against}.npy"
        if not (a.exists() and b.exists()):
            continue
        ours, theirs = np.load(a), np.load(b)
        n = min(len(ours), len(theirs))
        difference = ours[:n].astype(np.float64) - theirs[:n]
        rows.append(
            {
                "case": case,
                "against": against,
                "expected": what,
                "identical": bool(np.array_equal(ours, theirs)),
                "max_abs": float(np.abs(difference).max()) if n else 0.0,
                "relative_std": float(difference.std() / max(theirs[:n].std(), 1e-12)),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "xxl"), default="tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_xxl"))
    parser.add_argument("--out", type=Path, default=None, help="default: $OUT, else WORK/out")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--steps", type=int, default=None, help="override every case's steps")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--cases", nargs="+", default=None, choices=[c.name for c in CASES])
    parser.add_argument("--budget-s", type=float, default=540.0, help="stop starting cases")
    parser.add_argument("--case-timeout-s", type=float, default=300.0)
    parser.add_argument(
        "--cap-unit", type=int, default=None, help="bytes per cap 'GB' (dry run: 10 MiB)"
    )
    parser.add_argument("--weights", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.cap_unit is None:
        # The tiny model needs about 60 MiB: caps of 80 to 240 MiB make it choose and fall
        # back as the XXL does under 8 to 24 GiB.
        args.cap_unit = GIB if args.size == "xxl" else 10 * MIB
    if args.child is not None:
        print(json.dumps(run_child(args)))
        return 0

    started = time.perf_counter()
    out = args.out or Path(os.environ.get("OUT") or args.work / "out")
    results = args.work / "results.jsonl"
    weights = ensure_weights(args.work, args.size)
    (out / "results.jsonl").parent.mkdir(parents=True, exist_ok=True)
    if results.exists():  # what an earlier call finished comes back with this one too
        (out / "results.jsonl").write_text(results.read_text(encoding="utf-8"), "utf-8")
    done = _done(results)
    pending = [c for c in CASES if c.name not in done and (not args.cases or c.name in args.cases)]
    for number, case in enumerate(pending):
        remaining = args.budget_s - (time.perf_counter() - started)
        if _too_late(case, pending[number + 1 :], remaining):
            log.warning("skipping %s: %.0f s left, about %.0f s needed with what matters more",
                        case.name, remaining, case.expected_s)  # fmt: skip
            continue
        command = [sys.executable, __file__, "--child", case.name, "--weights", str(weights)]
        command += ["--size", args.size, "--device", args.device, "--work", str(args.work)]
        command += ["--seconds", str(args.seconds), "--threads", str(args.threads)]
        command += ["--width", str(args.width), "--height", str(args.height)]
        command += ["--cap-unit", str(args.cap_unit)]
        if args.steps is not None:
            command += ["--steps", str(args.steps)]
        log.info("case %s", case.name)
        case_started = time.perf_counter()
        try:
            done_run = subprocess.run(
                command, capture_output=True, text=True, check=False,
                timeout=min(args.case_timeout_s, remaining),
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            record: dict[str, Any] = {"case": case.name, "error": "timed out"}
        else:
            if done_run.returncode == 0:
                record = json.loads(done_run.stdout.strip().splitlines()[-1])
            else:
                record = {"case": case.name, "error": done_run.stderr.strip().splitlines()[-8:]}
        record["process_s"] = round(time.perf_counter() - case_started, 1)
        _append(record, results, out / "results.jsonl")
        log.info("case %s: %s", case.name, record.get("error") or f"{record['wall_s']} s")
    rows = compare_audio(args.work)
    (out / "comparisons.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    log.info("done in %.0f s; results in %s", time.perf_counter() - started, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

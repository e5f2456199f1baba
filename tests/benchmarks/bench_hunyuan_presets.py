"""Peak memory and time of the hunyuan engine per preset, on a generated clip.

The issue's measurement: the full XXL at random weights, a 30 s 1080p clip, every built-in
preset, peak device memory and time, with the device named. Weights are random (nothing is
downloaded): `--size xxl` writes a full-size official-layout directory (transformer sizes from
tests/data/reference/hunyuan_foley/manifest_xxl.json, DAC kwargs from the io manifest, the
encoders at their published widths; ~12 GB on disk, once, reusable with --weights).
`--size tiny` runs the same script in seconds on CPU. Each preset runs in a fresh subprocess so
its peak is its own. Writes JSON to tests/benchmarks/results/.

    # on a GPU machine (the issue's table):
    .venv/bin/python tests/benchmarks/bench_hunyuan_presets.py --size xxl --device cuda
    # on CPU, to check the script:
    .venv/bin/python tests/benchmarks/bench_hunyuan_presets.py --size tiny --seconds 3 \\
        --width 320 --height 180 --steps 2
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "data" / "reference"
RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = ("default", "light", "extreme", "reference")


def _full_spec():
    """The published sizes: the transformer from the XXL manifest, DAC from its kwargs, the
    encoders at their released widths and depths."""
    from plugin_server.engines.hunyuan.tiny_weights import EncoderShape, TinySpec

    model = json.loads((REFERENCE / "hunyuan_foley" / "manifest_xxl.json").read_text())
    kwargs = model["model_kwargs"]
    dac = json.loads((REFERENCE / "hunyuan_foley_io" / "dac_manifest.json").read_text())
    spec = TinySpec(
        hidden_size=kwargs["hidden_size"],
        num_heads=kwargs["num_heads"],
        depth_triple_blocks=kwargs["depth_triple_blocks"],
        depth_single_blocks=kwargs["depth_single_blocks"],
        siglip_width=kwargs["clip_dim"],
        siglip_image_size=512,
        siglip_patch=16,
        clap_width=kwargs["condition_dim"],
        sync_width=kwargs["sync_feat_dim"],
        sync_depth=12,
        sync_patch=16,
        dac_encoder_dim=dac["constructor_kwargs"]["encoder_dim"],
        dac_decoder_dim=dac["constructor_kwargs"]["decoder_dim"],
    )
    encoders = EncoderShape(
        siglip_layers=12, siglip_heads=12, clap_layers=12, clap_heads=12, mlp_ratio=4
    )
    return spec, encoders


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _write_video(path: Path, seconds: float, width: int, height: int) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 8_000_000
        for index in range(round(seconds * 25)):
            picture = np.full((height, width, 3), 30, dtype=np.uint8)
            left = (index * width // 50) % width
            picture[:, left : left + width // 20] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, "rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _child(args: argparse.Namespace) -> None:
    """One preset in this process: load, generate once, print one JSON line."""
    from dataclasses import replace

    from plugin_server.engines.base import ClipRequest
    from plugin_server.engines.hunyuan.engine import HunyuanEngine
    from plugin_server.engines.registry import EngineConfig
    from plugin_server.media.decode import MediaFileSource
    from plugin_server.media.frames import MediaSpan
    from plugin_server.presets.loader import load_preset

    torch.set_num_threads(args.threads)
    settings = load_preset(args.child).settings
    if args.steps is not None:
        settings = replace(settings, diffusion_timesteps=args.steps)
    engine = HunyuanEngine(EngineConfig(args.weights, args.device))
    started = time.perf_counter()
    engine.loaded_models(settings)
    load_seconds = time.perf_counter() - started
    span = MediaSpan(args.video, 0.0, args.seconds, 1.0, args.seconds)
    request = ClipRequest(
        "bench", MediaFileSource(span), args.seconds, "footsteps", seed=0, settings=settings
    )
    started = time.perf_counter()
    audio = engine.generate(request)
    seconds = time.perf_counter() - started
    report = audio.report
    keep = ("precision", "windows", "window_s", "diffusion_timesteps", "frame_sampling_rate")
    keep += ("cache_clear_interval", "batch_size", "stagewise_offload", "fp8_weights")
    print(
        json.dumps(
            {
                "preset": args.child,
                "load_seconds": load_seconds,
                "generate_seconds": seconds,
                "stage_seconds": report.stage_seconds,
                "peak_memory_bytes": report.peak_memory_bytes,
                "peak_memory_kind": "cuda max_memory_allocated"
                if args.device.startswith("cuda")
                else "process peak RSS",
                "samples": int(audio.samples.shape[0]),
                "parameters": {key: report.parameters[key] for key in keep},
                "notes": list(report.notes),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "xxl"), default="tiny")
    parser.add_argument("--weights", type=Path, default=None, help="reuse a weights directory")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--steps", type=int, default=None, help="override every preset's steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--video", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args)
        return 0

    from plugin_server.engines.hunyuan.tiny_weights import TinySpec, write_tiny_weights

    with tempfile.TemporaryDirectory(prefix="bench_hunyuan_") as scratch:
        weights = args.weights
        if weights is None:
            spec, encoders = _full_spec() if args.size == "xxl" else (TinySpec(), None)
            weights = write_tiny_weights(
                Path(scratch) / "weights",
                spec=spec,
                encoders=encoders,
                transformer_dtype=torch.bfloat16 if args.size == "xxl" else torch.float32,
            ).root
        video = Path(scratch) / "clip.mp4"
        _write_video(video, args.seconds, args.width, args.height)
        runs = []
        for preset in args.presets:
            command = [sys.executable, __file__, "--child", preset, "--weights", str(weights)]
            command += ["--video", str(video), "--device", args.device]
            command += ["--seconds", str(args.seconds), "--threads", str(args.threads)]
            if args.steps is not None:
                command += ["--steps", str(args.steps)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                runs.append({"preset": preset, "error": done.stderr.strip().splitlines()[-5:]})
                continue
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{preset}: {runs[-1]['generate_seconds']:.1f} s", file=sys.stderr)

    result = {
        "benchmark": "hunyuan_presets",
        "device": args.device,
        "device_name": _device_name(args.device),
        "threads": args.threads,
        "torch": torch.__version__,
        "model": f"{args.size} at random weights",
        "clip": {"seconds": args.seconds, "width": args.width, "height": args.height, "fps": 25},
        "steps_override": args.steps,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    device_kind = "cuda" if args.device.startswith("cuda") else "cpu"
    out = RESULTS / f"hunyuan_presets_{args.size}_{device_kind}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory and time of a DAC-VAE decode, whole versus in overlapping chunks.

Builds the DAC-VAE with the official kwargs (dac_manifest.json) at random weights, decodes a
random latent of `--seconds` seconds once whole and once with `--chunk-frames`, each in a fresh
subprocess, and records the growth of the process's peak resident memory over the loaded model
(CPU) or the peak allocated device memory (CUDA), the wall time, and the largest difference
between the two outputs. Writes JSON to tests/benchmarks/results/.

    .venv/bin/python tests/benchmarks/bench_dac_chunked_decode.py --seconds 4 --chunk-frames 50
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from plugin_server.planning.device import cpu_model

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests" / "data" / "reference" / "hunyuan_foley_io" / "dac_manifest.json"
RESULTS = Path(__file__).resolve().parent / "results"


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def _measure(args: argparse.Namespace) -> None:
    """Child process: build, decode once, print one JSON line."""
    from plugin_server.engines.hunyuan.dac_vae import DacConfig, build_dac

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    kwargs = json.loads(MANIFEST.read_text())["constructor_kwargs"]
    device = torch.device(args.device)
    model = build_dac(DacConfig.from_kwargs(kwargs), device=device).requires_grad_(False).eval()
    for module in model.modules():
        if hasattr(module, "weight_v"):  # small weights keep random activations in range
            torch.nn.init.normal_(module.weight_v)
            module.weight_g.data.fill_(0.3)
    frames = round(args.seconds * model.config.latent_rate_hz)
    latent = torch.randn(1, model.config.latent_channels, frames, device=device)
    chunk = args.chunk_frames if args.mode == "chunked" else None
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        baseline = _rss_bytes()
    start = time.perf_counter()
    with torch.inference_mode():
        audio = model.decode(latent, chunk_frames=chunk)
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - baseline
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    seconds = time.perf_counter() - start
    torch.save(audio.cpu(), args.output)
    print(
        json.dumps({"peak_bytes_over_model": peak, "seconds": seconds, "samples": audio.shape[-1]})
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="audio length to decode")
    parser.add_argument("--chunk-frames", type=int, default=50, help="latent frames per chunk")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", choices=("whole", "chunked"), help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        _measure(args)
        return 0
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("whole", "chunked"):
            output = Path(folder) / f"{mode}.pt"
            command = [sys.executable, __file__, "--mode", mode, "--output", str(output)]
            command += ["--seconds", str(args.seconds), "--chunk-frames", str(args.chunk_frames)]
            command += ["--device", args.device, "--threads", str(args.threads)]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            runs[mode]["audio"] = torch.load(output)
        difference = float((runs["whole"].pop("audio") - runs["chunked"].pop("audio")).abs().max())
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_model()
    result = {
        "benchmark": "dac_chunked_decode",
        "device": args.device,
        "device_name": device_name,
        "threads": args.threads,
        "torch": torch.__version__,
        "model": "DAC-VAE, official kwargs, random weights, float32",
        "audio_seconds": args.seconds,
        "chunk_frames": args.chunk_frames,
        "runs": runs,
        "max_abs_difference": difference,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"dac_chunked_decode_{args.device.replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

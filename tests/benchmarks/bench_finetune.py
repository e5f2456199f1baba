"""Benchmark: peak memory and step time of LoRA training with and without gradient checkpointing.

The deployment guide claims gradient checkpointing saves 55% of memory for 30% more time. This
measures it on the CPU with a small random transformer (same blocks as the published model,
narrower and shallower), LoRA rank 16 on the attention and MLP projections, AdamW, the
rectified-flow loss, batches of random features of the real widths. Each configuration runs in
its own process, so the process's peak resident set (ru_maxrss) is that configuration's alone;
"training peak" is that peak minus the resident set just before the first step (model, LoRA and
optimizer built), i.e. what the steps themselves add: activations, gradients, Adam moments.

    .venv/bin/python tests/benchmarks/bench_finetune.py [--steps 4] [--window 8] [--batch 2] \
        [--repeat 2]

writes tests/benchmarks/results/finetune_cpu.json (CPU model, torch version and threads named).
Without a GPU lent in the session the guide's GPU figures are not reproduced here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plugin_server.planning.device import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "finetune_cpu.json"
THREADS = 2

# A small model of the published architecture (XXL: hidden 1536, 18 triple + 36 single blocks).
MODEL = {
    "hidden_size": 256,
    "num_heads": 4,
    "depth_triple_blocks": 2,
    "depth_single_blocks": 4,
    "clip_dim": 768,
    "sync_feat_dim": 768,
    "condition_dim": 768,
}


def child(checkpointing: bool, steps: int, window_s: float, batch: int, out: Path) -> None:
    """Build, train `steps` steps, write this configuration's figures to `out`."""
    import torch

    torch.set_num_threads(THREADS)
    from plugin_server.engines.hunyuan.config import model_config_from_mapping
    from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
    from plugin_server.engines.hunyuan.tiny_weights import TinySpec, _config_document
    from plugin_server.finetune.lora import LoraSpec
    from plugin_server.finetune.objective import flow_loss
    from plugin_server.finetune.trainer import TrainingSettings, prepare_model
    from plugin_server.finetune.windows import Batch

    spec = TinySpec(
        hidden_size=MODEL["hidden_size"],
        num_heads=MODEL["num_heads"],
        depth_triple_blocks=MODEL["depth_triple_blocks"],
        depth_single_blocks=MODEL["depth_single_blocks"],
        siglip_width=MODEL["clip_dim"],
        sync_width=MODEL["sync_feat_dim"],
        clap_width=MODEL["condition_dim"],
    )
    config = model_config_from_mapping(_config_document(spec)).transformer
    torch.manual_seed(0)
    model = HunyuanVideoFoley(config).requires_grad_(False)
    settings = TrainingSettings(
        lora=LoraSpec(rank=16, alpha=16.0), gradient_checkpointing=checkpointing
    )
    device = torch.device("cpu")
    parameters = prepare_model(model, settings, device)
    optimizer = torch.optim.AdamW(parameters, lr=1e-4)
    frames = round(window_s * 50)
    segments = (frames // 2 - 16) // 8 + 1
    generator = torch.Generator().manual_seed(0)
    make = lambda *shape: torch.randn(*shape, generator=generator)  # noqa: E731
    batch_data = Batch(
        latent=make(batch, 128, frames),
        clip=make(batch, round(window_s * 8), MODEL["clip_dim"]),
        sync=make(batch, 8 * segments, MODEL["sync_feat_dim"]),
        text=make(batch, 77, MODEL["condition_dim"]),
        dropped=torch.zeros(batch, dtype=torch.bool),
        pair_ids=("bench",) * batch,
    )
    before = _rss_bytes()
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        loss = flow_loss(model, batch_data, generator, device=device)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(
        json.dumps(
            {
                "gradient_checkpointing": checkpointing,
                "base_parameters": sum(
                    p.numel() for p in model.parameters() if not p.requires_grad
                ),
                "lora_parameters": sum(p.numel() for p in parameters),
                "rss_before_steps_bytes": before,
                "peak_rss_bytes": peak,
                "training_peak_bytes": peak - before,
                "step_seconds": seconds,
                # The first step also allocates Adam's moments; later steps are the steady state.
                "median_step_seconds": statistics.median(seconds[1:] or seconds),
                "last_loss": float(loss.detach()),
            }
        )
    )


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--window", type=float, default=8.0, help="seconds per window")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="runs per mode, interleaved")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    parser.add_argument("--child-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child == "on", args.steps, args.window, args.batch, args.child_output)
        return 0

    import torch

    runs: dict[str, list[dict]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as scratch:
        # Interleaved repeats: other work on a shared machine slows both modes alike.
        for repeat in range(args.repeat):
            for mode in ("off", "on"):
                target = Path(scratch) / f"{mode}-{repeat}.json"
                command = [sys.executable, __file__, "--child", mode, "--child-output", str(target)]
                command += ["--steps", str(args.steps), "--window", str(args.window)]
                command += ["--batch", str(args.batch)]
                environment = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
                subprocess.run(command, check=True, env=environment)
                run = json.loads(target.read_text())
                runs[mode].append(run)
                peak_mib = run["training_peak_bytes"] / 2**20
                step_s = run["median_step_seconds"]
                print(
                    f"checkpointing {mode}: training peak {peak_mib:.0f} MiB, step {step_s:.2f} s"
                )
    summary = {
        mode: {
            "training_peak_bytes": statistics.median(r["training_peak_bytes"] for r in done),
            "peak_rss_bytes": statistics.median(r["peak_rss_bytes"] for r in done),
            # The fastest run is the one least slowed by other processes.
            "fastest_step_seconds": min(
                min(r["step_seconds"][1:] or r["step_seconds"]) for r in done
            ),
        }
        for mode, done in runs.items()
    }
    off, on = summary["off"], summary["on"]
    result = {
        "benchmark": "LoRA fine-tuning step, gradient checkpointing off vs on",
        "device": {
            "kind": "cpu",
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch_threads": THREADS,
            "torch": torch.__version__,
            "load_average_at_end": os.getloadavg()[0],
            "gpu": "none lent in this session: GPU figures (XL/XXL at random weights) not measured",
        },
        "model": {**MODEL, "mlp_ratio": 4, "lora_rank": 16, "precision": "fp32"},
        "workload": {
            "window_s": args.window,
            "batch_size": args.batch,
            "steps": args.steps,
            "repeats": args.repeat,
        },
        "summary": summary,
        "checkpointing_effect": {
            "training_peak_change_percent": 100
            * (on["training_peak_bytes"] / off["training_peak_bytes"] - 1),
            "process_peak_change_percent": 100 * (on["peak_rss_bytes"] / off["peak_rss_bytes"] - 1),
            "step_time_change_percent": 100
            * (on["fastest_step_seconds"] / off["fastest_step_seconds"] - 1),
            "guide_claim": "55% less memory for 30% more time",
        },
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["checkpointing_effect"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

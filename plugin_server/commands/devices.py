"""`foley-server devices`: which devices this machine offers the server, their memory, and the
preset `auto` resolves to on each.

The image's entry point runs it before `serve`, so a container's first log lines say which GPU
it got (or, loudly, that none is visible and it serves on the CPU). Exit status 0; 2 when
`--require-gpu` is given and no GPU is visible.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

GIB = 1024**3


@dataclass(frozen=True)
class DeviceReport:
    """One device as the server would use it."""

    name: str
    description: str
    total_bytes: int
    free_bytes: int
    auto_preset: str
    auto_reason: str


@dataclass(frozen=True)
class MachineReport:
    torch_version: str | None
    cuda_version: str | None  # the CUDA PyTorch was built for; None for a CPU build
    gpus_visible: int
    devices: tuple[DeviceReport, ...]

    @property
    def summary(self) -> str:
        build = (
            f"PyTorch {self.torch_version} (CUDA {self.cuda_version} build)"
            if self.cuda_version
            else f"PyTorch {self.torch_version} (CPU build)"
            if self.torch_version
            else "no PyTorch"
        )
        if self.gpus_visible == 0:
            where = "NO GPU IS VISIBLE: serving on the CPU" + (
                " (run with --gpus all and the NVIDIA Container Toolkit to use a GPU)"
                if self.cuda_version
                else ""
            )
        else:
            where = f"{self.gpus_visible} GPU(s) visible"
        return f"{build}; {where}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clip-seconds",
        type=float,
        default=10.0,
        help="clip length `auto` is resolved for (default 10 s)",
    )
    parser.add_argument(
        "--model-size",
        default="xxl",
        help="model whose memory the planner predicts: tiny, small, xl or xxl (default xxl)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument("--require-gpu", action="store_true", help="exit 2 when no GPU is visible")


def machine_report(clip_seconds: float, model_size: str) -> MachineReport:
    """Probe every device `serve --device auto` would use and resolve `auto` on each."""
    from plugin_server.pipeline.devices import worker_devices
    from plugin_server.planning.auto import choose_preset
    from plugin_server.planning.device import probe_device
    from plugin_server.planning.model_dims import model_dims

    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    dims = model_dims(model_size)
    slots = dict.fromkeys(worker_devices("auto", workers=1))  # CPU slots collapse to one
    devices = []
    for slot in slots:
        capacity = probe_device(slot)
        choice = choose_preset(clip_seconds, dims, capacity)
        devices.append(
            DeviceReport(
                name=capacity.name,
                description=capacity.description,
                total_bytes=capacity.total_bytes,
                free_bytes=capacity.free_bytes,
                auto_preset=choice.preset,
                auto_reason=choice.reason,
            )
        )
    gpus = sum(1 for device in devices if device.name.startswith("cuda"))
    return MachineReport(
        torch_version=torch.__version__ if torch is not None else None,
        cuda_version=torch.version.cuda if torch is not None else None,
        gpus_visible=gpus,
        devices=tuple(devices),
    )


def run(args: argparse.Namespace) -> int:
    report = machine_report(args.clip_seconds, args.model_size)
    if args.json:
        document = {**asdict(report), "summary": report.summary}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        lines = [f"devices: {report.summary}"]
        for device in report.devices:
            lines.append(
                f"devices: {device.name}: {device.description}, "
                f"{device.free_bytes / GIB:.1f} GiB free of {device.total_bytes / GIB:.1f} GiB; "
                f"auto -> {device.auto_preset} for a {args.clip_seconds:g} s "
                f"{args.model_size.upper()} clip"
            )
        sys.stdout.write("\n".join(lines) + "\n")
    if args.require_gpu and report.gpus_visible == 0:
        return 2
    return 0

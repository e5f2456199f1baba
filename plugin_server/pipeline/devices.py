"""Which device slots the worker pool gets: one worker per GPU, or CPU workers."""

from __future__ import annotations

import importlib.util
import logging
import os

log = logging.getLogger(__name__)


class DeviceUnavailable(ValueError):
    """The configured device does not exist on this machine."""


def default_cpu_workers() -> int:
    """Half the cores (engines use several threads each), at least 1, at most 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def worker_devices(device: str, workers: int | None) -> list[str]:
    """Device slots for `device` ("auto", "cpu", "cuda", "cuda:N").

    GPUs get one worker each (`workers` is ignored); CPU gets `workers` or a default.
    """
    if device == "cpu":
        return ["cpu"] * (workers or default_cpu_workers())
    gpus = _cuda_device_count()
    if device == "auto":
        if gpus == 0:
            return ["cpu"] * (workers or default_cpu_workers())
        return [f"cuda:{index}" for index in range(gpus)]
    if device == "cuda":
        if gpus == 0:
            raise DeviceUnavailable("--device cuda was asked for, but no CUDA GPU is visible")
        return [f"cuda:{index}" for index in range(gpus)]
    if device.startswith("cuda:") and device[5:].isdigit():
        if int(device[5:]) >= gpus:
            raise DeviceUnavailable(f"--device {device}: only {gpus} CUDA GPU(s) are visible")
        return [device]
    raise DeviceUnavailable(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")


def _cuda_device_count() -> int:
    if importlib.util.find_spec("torch") is None:
        return 0
    import torch  # only here: CPU-only deployments with the procedural engine never need it

    return torch.cuda.device_count() if torch.cuda.is_available() else 0

"""What the planner needs to know about the device a clip will run on."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GIB = 1024**3


class DeviceError(ValueError):
    """A device name cannot be used here (unknown, or CUDA asked for where there is none)."""


@dataclass(frozen=True)
class DeviceCapacity:
    """A device's memory and abilities.

    `free_bytes` is what a new clip may use now (CUDA: free device memory; CPU: available host
    memory). `compute_capability` is CUDA's (major, minor), None for the CPU.
    `host_to_device_bytes_per_second` is the pinned host-to-device copy rate measured on this
    GPU (None: not measured; the planner then uses the calibration's figure).
    """

    name: str
    description: str
    total_bytes: int
    free_bytes: int
    compute_capability: tuple[int, int] | None = None
    host_to_device_bytes_per_second: float | None = None

    @property
    def kind(self) -> str:
        """'cuda' or 'cpu': which calibration the planner uses."""
        return "cpu" if self.compute_capability is None else "cuda"

    @property
    def supports_bfloat16(self) -> bool:
        """BF16 compute runs natively from Ampere (8.0) on; PyTorch emulates it on the CPU."""
        return self.compute_capability is None or self.compute_capability >= (8, 0)

    @property
    def supports_fp8(self) -> bool:
        """FP8 storage with fast casts needs Ada or Hopper (8.9 and up)."""
        return self.compute_capability is not None and self.compute_capability >= (8, 9)


# The device the targets are stated for, with the memory an idle H100 SXM reports.
H100_80GB = DeviceCapacity(
    name="cuda:0",
    description="NVIDIA H100 80GB HBM3 (nominal: 79.1 GiB free of 79.6 GiB)",
    total_bytes=85_520_809_984,
    free_bytes=int(79.1 * GIB),
    compute_capability=(9, 0),
)


def probe_device(device: str = "auto") -> DeviceCapacity:
    """Measure the named device now: "auto" (CUDA if present, else CPU), "cpu", "cuda[:N]"."""
    if device == "cpu":
        return _cpu_capacity()
    import torch

    if device == "auto":
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            return _cpu_capacity()
    if not device.startswith("cuda"):
        raise DeviceError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} asked for, but this machine has no usable CUDA GPU")
    index = torch.device(device).index or 0
    if index >= torch.cuda.device_count():
        raise DeviceError(
            f"device {device!r} asked for, but only {torch.cuda.device_count()} GPU(s) are visible"
        )
    free, total = torch.cuda.mem_get_info(index)
    # A per-process cap (torch.cuda.set_per_process_memory_fraction) is what this process may
    # use, whatever the card has free.
    fraction_of = getattr(torch.cuda, "get_per_process_memory_fraction", None)
    fraction = float(fraction_of(index)) if fraction_of is not None else 1.0
    if fraction < 1.0:
        capped = int(fraction * total) - int(torch.cuda.memory_reserved(index))
        free = max(0, min(int(free), capped))
    return DeviceCapacity(
        name=f"cuda:{index}",
        description=torch.cuda.get_device_name(index),
        total_bytes=int(total),
        free_bytes=int(free),
        compute_capability=tuple(torch.cuda.get_device_capability(index)),  # type: ignore[arg-type]
        host_to_device_bytes_per_second=host_to_device_bandwidth(index),
    )


BANDWIDTH_PROBE_BYTES = 256 * 1024**2


@functools.cache
def host_to_device_bandwidth(index: int, size: int = BANDWIDTH_PROBE_BYTES) -> float:
    """Pinned host-to-device copy rate of GPU `index` in bytes/s: the best of three timed
    copies of `size` bytes after a warm-up (measured once per process, about 0.1 s)."""
    import torch

    device = torch.device("cuda", index)
    host = torch.empty(size, dtype=torch.uint8).pin_memory()
    target = torch.empty(size, dtype=torch.uint8, device=device)
    target.copy_(host, non_blocking=True)
    best = float("inf")
    for _ in range(3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        target.copy_(host, non_blocking=True)
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1000)
    del host, target
    rate = size / best
    log.info("cuda:%d: host-to-device copies at %.1f GB/s (pinned, measured)", index, rate / 1e9)
    return rate


def _cpu_capacity() -> DeviceCapacity:
    total, available = _host_memory()
    return DeviceCapacity(
        name="cpu",
        description=f"{cpu_model()} ({os.cpu_count()} logical cores)",
        total_bytes=total,
        free_bytes=available,
    )


def _host_memory() -> tuple[int, int]:
    """(total, available) host memory in bytes, from /proc/meminfo where there is one."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        total = int(fields["MemTotal"].split()[0]) * 1024
        available = int(fields["MemAvailable"].split()[0]) * 1024
        return total, available
    except (OSError, KeyError, ValueError) as error:
        log.warning("cannot read host memory from /proc/meminfo (%s); assuming 8 GiB", error)
        return 8 * GIB, 8 * GIB


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("CPU" when unknown), for naming benchmark hosts."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError as error:
        log.debug("no /proc/cpuinfo (%s); naming the CPU generically", error)
        return "CPU"
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "CPU"

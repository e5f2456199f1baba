"""Measure each stage's peak memory and wall time while an engine works on one clip.

`StageMeter.progress` is passed to `Engine.generate` as its progress callback: whenever the
reported stage changes, the previous stage is closed (its peak read, its time taken) and the
peak counter is reset for the next. Peaks are net of a baseline taken by `start()` (call it
before the engine loads its weights, so that weights count as they do in the planner):

- CUDA: `torch.cuda.max_memory_allocated` (the CUDA context and cached-but-free blocks are not
  counted, as in the planner).
- CPU: the process's peak resident set (VmHWM), which Linux resets on writing 5 to
  /proc/self/clear_refs. glibc would keep freed mid-size blocks mapped and inflate the next
  stage's baseline, so the meter asks it to serve large blocks from mmap (returned on free).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 256 * 1024


class MeasurementError(RuntimeError):
    """The peak memory of this process cannot be measured here (no /proc, no CUDA)."""


@dataclass(frozen=True)
class StageMeasurement:
    """One stage as measured: peak bytes above the baseline, and wall seconds."""

    stage: str
    peak_bytes: int
    seconds: float


@dataclass
class StageMeter:
    """Per-stage peak memory and time for one clip on `device_kind` ("cpu" or "cuda")."""

    device_kind: str
    baseline_bytes: int = 0
    stages: list[StageMeasurement] = field(default_factory=list)
    _current: str | None = None
    _started: float = 0.0
    _peak_of_run: int = 0

    def start(self) -> None:
        """Take the baseline; call before the engine is created."""
        if self.device_kind == "cpu":
            _prefer_mmap_for_large_blocks()
            _reset_cpu_peak()
            self.baseline_bytes = _resident_bytes()
        else:
            import torch

            torch.cuda.synchronize()
            self.baseline_bytes = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()

    def progress(self, stage: str, percent: float) -> None:
        """The engine's progress callback: opens a new stage when the name changes."""
        if stage == self._current:
            return
        self._close()
        self._current = stage
        self._started = time.perf_counter()
        self._reset_peak()

    def finish(self) -> tuple[StageMeasurement, ...]:
        """Close the last stage and return every stage measured so far."""
        self._close()
        self._current = None
        return tuple(self.stages)

    def peak_since_start(self) -> int:
        """The largest stage peak, or the peak since `start()` if no stage was reported."""
        if self.stages:
            return max(stage.peak_bytes for stage in self.stages)
        return max(0, self._peak_now())

    def _close(self) -> None:
        if self._current is None:
            return
        seconds = time.perf_counter() - self._started
        self.stages.append(StageMeasurement(self._current, max(0, self._peak_now()), seconds))

    def _peak_now(self) -> int:
        if self.device_kind == "cpu":
            return _peak_resident_bytes() - self.baseline_bytes
        import torch

        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - self.baseline_bytes

    def _reset_peak(self) -> None:
        if self.device_kind == "cpu":
            _reset_cpu_peak()
        else:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()


def _status_kib(name: str) -> int:
    try:
        text = _STATUS.read_text()
    except OSError as error:
        raise MeasurementError(f"cannot read {_STATUS} to measure memory ({error})") from error
    match = re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise MeasurementError(f"{_STATUS} has no {name} line; peak memory is not measurable")
    return int(match.group(1))


def _resident_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def _peak_resident_bytes() -> int:
    return _status_kib("VmHWM") * 1024


def _reset_cpu_peak() -> None:
    # Hand freed heap pages back first: otherwise the next stage reuses them without its
    # resident set (and so its measured peak) growing.
    _trim_heap()
    try:
        _CLEAR_REFS.write_text("5")
    except OSError as error:
        raise MeasurementError(
            f"cannot reset the peak resident set through {_CLEAR_REFS} ({error}); per-stage "
            "CPU peaks need Linux 4.0 or later"
        ) from error


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (mallopt, malloc_trim); None elsewhere (musl, macOS).

    Looked up once: find_library runs ldconfig, far too slow for every stage boundary."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        log.warning("no glibc allocator controls; CPU stage peaks may hide reused memory")
        return None
    return libc


def _prefer_mmap_for_large_blocks() -> None:
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def _trim_heap() -> None:
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)

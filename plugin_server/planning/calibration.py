"""Calibration constants of the memory and time model, kept as data in calibration.json.

Each device kind ("cpu", "cuda") has, per stage: a factor scaling the analytic working memory to
what was measured, a constant (allocator and runtime workspace), FLOP/s in FP32, FP16 and
BF16, seconds per network call (Python and launch overhead) and a constant time per stage;
and, for the whole device, the rate at which source video pixels are decoded. `source` says
where the numbers came from: a measurement (device, model sizes, date) or, where no device was
available, an assumption.
`foley-server bench --calibrate` refits the measured kind from its own runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"


class CalibrationError(ValueError):
    """calibration.json is missing a device kind or stage, or holds a value of the wrong kind."""


@dataclass(frozen=True)
class StageCalibration:
    """Constants for one stage on one device kind. Bytes, FLOP/s and seconds.

    `half_flops_per_second` is FP16's rate, `bfloat16_flops_per_second` BF16's.
    """

    working_factor: float = 1.0
    fixed_bytes: int = 0
    flops_per_second: float = 1e10
    half_flops_per_second: float = 1e10
    bfloat16_flops_per_second: float = 1e10
    call_seconds: float = 0.0
    fixed_seconds: float = 0.0

    def throughput(self, precision: str) -> float:
        """FLOP/s for work in `precision` ("float32", "float16" or "bfloat16")."""
        rates = {
            "float32": self.flops_per_second,
            "float16": self.half_flops_per_second,
            "bfloat16": self.bfloat16_flops_per_second,
        }
        if precision not in rates:
            raise CalibrationError(f"no throughput for precision {precision!r}; use {list(rates)}")
        return rates[precision]


@dataclass(frozen=True)
class DeviceCalibration:
    """Every stage's constants for one device kind, with where they came from.

    `runtime_bytes` is memory the process or context holds before any model is loaded (CUDA
    context, or the interpreter and libraries on CPU); it is reported apart from clip peaks.
    `host_to_device_bytes_per_second` prices stage-wise offload (0 where there is no transfer).
    `seconds_per_decoded_pixel` prices decoding the source video in the frames stage (0 where
    the fit folded decoding into the stage's other terms).
    """

    kind: str
    source: str
    stages: dict[str, StageCalibration]
    runtime_bytes: int = 0
    host_to_device_bytes_per_second: float = 0.0
    seconds_per_decoded_pixel: float = 0.0

    def stage(self, name: str) -> StageCalibration:
        try:
            return self.stages[name]
        except KeyError:
            raise CalibrationError(
                f"{CALIBRATION_FILE}: device kind {self.kind!r} has no constants for stage "
                f"{name!r}; run `foley-server bench --calibrate` or add them"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_calibration(kind: str, path: Path = CALIBRATION_FILE) -> DeviceCalibration:
    """The constants for device kind "cpu" or "cuda" from `path`."""
    calibrations = _load_all(path)
    if kind not in calibrations:
        raise CalibrationError(
            f"{path}: no calibration for device kind {kind!r} (has {', '.join(calibrations)})"
        )
    return calibrations[kind]


@cache
def _load_all(path: Path) -> dict[str, DeviceCalibration]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CalibrationError(f"{path}: cannot be read as JSON ({error})") from error
    result: dict[str, DeviceCalibration] = {}
    for kind, section in document.items():
        if kind.startswith("_"):
            continue
        try:
            stages = {
                stage: StageCalibration(**values) for stage, values in section["stages"].items()
            }
            result[kind] = DeviceCalibration(
                kind=kind,
                source=str(section["source"]),
                stages=stages,
                runtime_bytes=int(section.get("runtime_bytes", 0)),
                host_to_device_bytes_per_second=float(
                    section.get("host_to_device_bytes_per_second", 0.0)
                ),
                seconds_per_decoded_pixel=float(section.get("seconds_per_decoded_pixel", 0.0)),
            )
        except (KeyError, TypeError) as error:
            raise CalibrationError(
                f"{path}: device kind {kind!r} is malformed ({error})"
            ) from error
    return result


def write_calibration(calibration: DeviceCalibration, path: Path = CALIBRATION_FILE) -> None:
    """Replace one device kind's section of `path`, keeping the others."""
    document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    section = calibration.to_dict()
    section.pop("kind")
    document[calibration.kind] = section
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    _load_all.cache_clear()

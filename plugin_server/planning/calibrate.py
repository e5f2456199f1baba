"""Fit the planner's calibration constants to measured benchmark runs.

For each stage, over every run of the given benchmark documents (same device kind):

- memory: measured peak - resident weights = factor x analytic working bytes + constant,
  by least squares (factor and constant kept non-negative);
- time: measured seconds = FLOPs / rate of its precision (FP32, FP16 or BF16) + calls x seconds
  per call
  + decoded pixels / pixel rate + constant, by non-negative least squares.

The decoding rate is fitted on the frames stage, the only one that decodes. Several documents
(a long clip on a small model, short clips on the tiny one) constrain the constants better
than one.

While the CUDA section is an assumption (no GPU measurement), its working-memory factors and
constants follow the CPU fit (`assumed_cuda`): the same tensors are allocated on either device,
so the CPU's measured overhead over the analytic count is the best estimate available.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from plugin_server.planning.calibration import (
    DeviceCalibration,
    StageCalibration,
    load_calibration,
)
from plugin_server.planning.memory_model import STAGES

PRECISIONS = ("float32", "float16", "bfloat16")


class CalibrationFitError(ValueError):
    """The documents cannot be fitted: wrong kind, too few runs, missing analytic data."""


def fit_calibration(
    documents: Sequence[dict[str, Any]], sources: Sequence[str]
) -> DeviceCalibration:
    """New constants for the documents' device kind, keeping what the runs cannot constrain."""
    kinds = {document["device"]["kind"] for document in documents}
    if len(kinds) != 1:
        raise CalibrationFitError(f"benchmark documents mix device kinds {sorted(kinds)}")
    if any(document.get("kind") != "measurement" for document in documents):
        raise CalibrationFitError("only measured benchmark documents can calibrate the planner")
    kind = kinds.pop()
    previous = load_calibration(kind)
    samples = {stage: _samples(documents, stage, kind) for stage in STAGES}
    if any(len(rows) < 3 for rows in samples.values()):
        raise CalibrationFitError("need at least 3 measured runs per stage to fit the planner")
    fits = {stage: _fit_stage(rows, previous.stage(stage)) for stage, rows in samples.items()}
    stages = {stage: constants for stage, (constants, _) in fits.items()}
    # The decoding cost, or 0 when the runs could not tell it from the frames stage's other
    # terms (they then carry it): either way the stage's fit stays self-consistent.
    seconds_per_pixel = float(f"{fits['frames'][1]:.4g}")
    devices = sorted({document["device"]["description"] for document in documents})
    described = "; ".join(
        f"{document['model_size']} model, {document['clip']['duration_s']:g} s clip, "
        f"{document['created']}"
        for document in documents
    )
    return replace(
        previous,
        source=(
            f"fitted by plugin_server/planning/calibrate.py on {', '.join(devices)} "
            f"(torch threads {documents[0]['host']['torch_threads']}): {described}; "
            f"from {', '.join(sources)}"
        ),
        stages=stages,
        seconds_per_decoded_pixel=seconds_per_pixel,
    )


def load_documents(paths: Sequence[Path]) -> list[dict[str, Any]]:
    documents = []
    for path in paths:
        try:
            documents.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as error:
            raise CalibrationFitError(
                f"{path}: not a readable benchmark document ({error})"
            ) from error
    return documents


def _samples(documents: Sequence[dict[str, Any]], stage: str, kind: str) -> list[dict[str, Any]]:
    rows = []
    for document in documents:
        for run in document["presets"]:
            entry = next((s for s in run["stages"] if s["stage"] == stage), None)
            if entry is None or entry.get("peak_bytes") is None or "analytic" not in entry:
                continue
            analytic = entry["analytic"]
            host = analytic["host_bytes"] if kind == "cpu" else 0
            resident = analytic["resident_weight_bytes"]
            rows.append(
                {
                    "working": analytic["device_bytes"] + host,
                    "beyond_weights": entry["peak_bytes"] - resident,
                    "seconds": entry["seconds"],
                    "flops": analytic["flops"],
                    "precision": analytic["precision"],
                    "calls": analytic["calls"],
                    "pixels": analytic["pixels"],
                }
            )
    return rows


def _fit_stage(
    rows: Sequence[dict[str, Any]], previous: StageCalibration
) -> tuple[StageCalibration, float]:
    """The stage's constants, and its fitted seconds per decoded pixel (0 if it decodes none)."""
    working = np.array([r["working"] for r in rows], dtype=float)
    beyond = np.array([r["beyond_weights"] for r in rows], dtype=float)
    memory_matrix = np.stack([working, np.ones_like(working)], axis=1)
    memory_scale = np.maximum(np.abs(memory_matrix).max(axis=0), 1e-30)
    (factor, fixed), _ = nnls(memory_matrix / memory_scale, np.maximum(beyond, 0.0))
    factor, fixed = factor / memory_scale[0], fixed / memory_scale[1]
    if not np.ptp(working) > 0:
        # One working size only: the factor is not identifiable; keep the old one.
        factor = previous.working_factor
        fixed = max(0.0, float(np.median(beyond - factor * working)))

    # seconds = FLOPs / rate of their precision + calls x cost + pixels x cost + constant
    time_matrix = np.array(
        [
            [r["flops"] if r["precision"] == precision else 0.0 for precision in PRECISIONS]
            + [r["calls"], r["pixels"], 1.0]
            for r in rows
        ],
        dtype=float,
    )
    target = np.array([r["seconds"] for r in rows], dtype=float)
    time_scale = np.maximum(np.abs(time_matrix).max(axis=0), 1e-30)
    coefficients, _ = nnls(time_matrix / time_scale, target)
    per_flop, per_half_flop, per_bfloat16_flop, per_call, per_pixel, constant = (
        coefficients / time_scale
    )
    observed = time_matrix.any(axis=0)
    constants = StageCalibration(
        working_factor=round(float(factor), 4),
        fixed_bytes=int(fixed),
        flops_per_second=_rate(per_flop, observed[0], previous.flops_per_second),
        half_flops_per_second=_rate(per_half_flop, observed[1], previous.half_flops_per_second),
        bfloat16_flops_per_second=_rate(
            per_bfloat16_flop, observed[2], previous.bfloat16_flops_per_second
        ),
        call_seconds=round(float(per_call), 6),
        fixed_seconds=round(float(constant), 4),
    )
    return constants, float(per_pixel)


def _rate(seconds_per_flop: float, observed: bool, previous: float) -> float:
    """FLOP/s from a fitted cost; the previous value where no run exercised it."""
    if not observed or seconds_per_flop <= 0:
        return previous
    return float(f"{1.0 / seconds_per_flop:.4g}")


def assumed_cuda(cpu: DeviceCalibration, cuda: DeviceCalibration) -> DeviceCalibration | None:
    """The CUDA section with the CPU fit's memory constants, or None if CUDA was measured."""
    if not cuda.source.startswith("assumed"):
        return None
    stages = {
        name: replace(
            constants,
            working_factor=cpu.stage(name).working_factor,
            fixed_bytes=cpu.stage(name).fixed_bytes,
        )
        for name, constants in cuda.stages.items()
    }
    return replace(cuda, stages=stages)

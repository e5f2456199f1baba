"""The calibration fit recovers known constants from runs that follow them exactly."""

from __future__ import annotations

import pytest

from plugin_server.planning.calibrate import CalibrationFitError, fit_calibration
from plugin_server.planning.memory_model import STAGES

FACTOR, FIXED = 1.7, 12_000_000
FLOPS_PER_S, HALF_FLOPS_PER_S, BFLOAT16_FLOPS_PER_S = 2e10, 4e9, 3e10
CALL_S, CONSTANT_S = 0.003, 0.2
PIXELS_PER_S = 5e8


def _run(index: int) -> dict:  # type: ignore[type-arg]
    stages = []
    precision = ("float32", "float16", "bfloat16")[index % 3]
    for number, name in enumerate(STAGES):
        working = (index + 1) * 10_000_000 * (number + 1)
        resident = 50_000_000 + number * 1_000_000
        flops = (index + 1) * 3e9 * (number + 1)
        calls = 10 + (index * 3) % 7 * 5  # not a linear function of the FLOPs
        # Clip sizes vary apart from lengths, so decoding cost can be told from FLOPs.
        pixels = ((index * 7) % 5 + 1) * 2_000_000 if name == "frames" else 0
        rate = {
            "float32": FLOPS_PER_S,
            "float16": HALF_FLOPS_PER_S,
            "bfloat16": BFLOAT16_FLOPS_PER_S,
        }[precision]
        seconds = flops / rate + calls * CALL_S + pixels / PIXELS_PER_S + CONSTANT_S
        stages.append(
            {
                "stage": name,
                "peak_bytes": int(resident + FACTOR * working + FIXED),
                "seconds": seconds,
                "analytic": {
                    "resident_weight_bytes": resident,
                    "device_bytes": working // 2,
                    "host_bytes": working - working // 2,
                    "flops": flops,
                    "calls": calls,
                    "pixels": pixels,
                    "precision": precision,
                },
            }
        )
    return {"settings": {"stagewise_offload": False}, "stages": stages}


def _document(runs: int) -> dict:  # type: ignore[type-arg]
    return {
        "kind": "measurement",
        "device": {"kind": "cpu", "description": "test CPU"},
        "host": {"torch_threads": 1},
        "model_size": "tiny",
        "clip": {"duration_s": 2.0},
        "created": "2025-01-01T00:00:00+00:00",
        "presets": [_run(index) for index in range(runs)],
    }


def test_fit_recovers_memory_and_time_constants() -> None:
    fitted = fit_calibration([_document(12)], ["synthetic"])
    assert fitted.seconds_per_decoded_pixel == pytest.approx(1 / PIXELS_PER_S, rel=0.02)
    for name in STAGES:
        stage = fitted.stage(name)
        assert stage.working_factor == pytest.approx(FACTOR, rel=0.01)
        assert stage.fixed_bytes == pytest.approx(FIXED, rel=0.02)
        assert stage.flops_per_second == pytest.approx(FLOPS_PER_S, rel=0.02)
        assert stage.half_flops_per_second == pytest.approx(HALF_FLOPS_PER_S, rel=0.02)
        assert stage.bfloat16_flops_per_second == pytest.approx(BFLOAT16_FLOPS_PER_S, rel=0.02)
        assert stage.call_seconds == pytest.approx(CALL_S, rel=0.05)


def test_too_few_runs_are_refused() -> None:
    with pytest.raises(CalibrationFitError, match="at least 3 measured runs"):
        fit_calibration([_document(2)], ["synthetic"])


def test_predictions_are_refused_as_calibration_input() -> None:
    document = _document(4)
    document["kind"] = "prediction"
    with pytest.raises(CalibrationFitError, match="only measured"):
        fit_calibration([document], ["synthetic"])

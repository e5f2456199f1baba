"""`foley-server bench` writes the documented JSON and chart; --predict and --calibrate work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plugin_server.cli import main
from plugin_server.planning.calibration import CALIBRATION_FILE, load_calibration

REQUIRED_RUN_KEYS = {"preset", "peak_memory_bytes", "wall_s", "stages", "device", "audio_s"}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    status = main(
        [
            "--log-level", "WARNING", "bench", "--json", str(out), "--model-size", "tiny",
            "--duration", "1", "--height", "180", "--device", "cpu",
            "--case", "default", "--case", "extreme", "--case", "diffusion_timesteps=25",
        ]
    )  # fmt: skip
    assert status == 0
    return out


@pytest.mark.slow
def test_measured_document_has_one_run_per_case_with_stages(measured: Path) -> None:
    document = json.loads(measured.read_text())
    assert document["kind"] == "measurement"
    assert document["device"]["kind"] == "cpu" and document["device"]["description"]
    runs = document["presets"]
    assert [run["preset"] for run in runs] == ["default", "extreme", "diffusion_timesteps=25"]
    for run in runs:
        assert set(run) >= REQUIRED_RUN_KEYS
        assert run["audio_s"] == pytest.approx(1.0)
        assert run["peak_memory_bytes"] == max(stage["peak_bytes"] for stage in run["stages"])
        assert [stage["stage"] for stage in run["stages"]] == [
            "load", "text", "frames", "sampling", "decode",
        ]  # fmt: skip
        assert run["wall_s"] >= sum(stage["seconds"] for stage in run["stages"]) * 0.99
    assert runs[0]["ratio_to_default"] == {"peak_memory": 1.0, "wall": 1.0}
    assert any(line.startswith("diffusion_timesteps=25:") for line in document["findings"])


@pytest.mark.slow
def test_chart_is_written_beside_the_json(measured: Path) -> None:
    chart = measured.with_suffix(".png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_calibration_refits_from_measured_documents(measured: Path, tmp_path: Path) -> None:
    target = tmp_path / "calibration.json"
    shutil.copy(CALIBRATION_FILE, target)
    assert main(["bench", "--calibrate", str(measured), "--calibration-file", str(target)]) == 0
    refitted = load_calibration("cpu", target)
    assert str(measured) in refitted.source
    cuda, cuda_before = load_calibration("cuda", target), load_calibration("cuda")
    for stage in ("text", "frames", "sampling", "decode"):
        constants = refitted.stage(stage)
        assert constants.working_factor >= 0 and constants.fixed_bytes >= 0
        assert constants.flops_per_second > 0
        # The assumed GPU section takes the CPU's memory constants, keeps its own speeds.
        assert cuda.stage(stage).working_factor == constants.working_factor
        assert cuda.stage(stage).flops_per_second == cuda_before.stage(stage).flops_per_second


def test_prediction_for_xxl_on_an_h100_is_labelled_as_such(tmp_path: Path) -> None:
    out = tmp_path / "xxl.json"
    status = main(
        ["bench", "--predict", "--json", str(out), "--model-size", "xxl", "--device", "h100",
         "--no-chart"]
    )  # fmt: skip
    assert status == 0
    document = json.loads(out.read_text())
    assert document["kind"] == "prediction"
    assert "H100" in document["device"]["description"]
    names = [run["preset"] for run in document["presets"]]
    assert names[:4] == ["default", "light", "extreme", "reference"]
    default = document["presets"][0]
    # FP32 XXL: 5.13e9 parameters x 4 bytes before any activation.
    assert default["peak_memory_bytes"] > 20e9
    targets = {row["settings"]: row for row in document["targets"]}
    assert {"reference+stagewise_offload", "extreme+stagewise_offload+fp8_weights"} <= set(targets)
    for row in targets.values():
        assert row["over_target_bytes"] == row["predicted_peak_memory_bytes"] - row["target_bytes"]
        assert row["meets_memory_target"] == (row["over_target_bytes"] < 0)
    # Offloading costs transfer time; not offloading costs none.
    assert targets["reference"]["extra_time_from_offload"] == 0
    assert targets["reference+stagewise_offload"]["extra_time_from_offload"] > 0


def test_unknown_case_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--predict", "--json", "x.json", "--case", "turbo"])
    assert status == 2
    assert "unknown benchmark case(s) turbo" in capsys.readouterr().err


def test_xl_without_weights_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--json", str(tmp_path / "x.json"), "--model-size", "xl"])
    assert status == 2
    assert "needs --weights DIR" in capsys.readouterr().err

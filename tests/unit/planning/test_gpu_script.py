"""The lent-GPU script's own logic (tests/benchmarks/gpu_xxl.py and gpu_xxl_collect.py), on
the CPU: its decoder-free frames, the order cases are dropped in when time runs short, and the
collector's refusal to file anything but a CUDA run as the GPU results."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from plugin_server.media.frames import FrameSpec

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import gpu_xxl  # noqa: E402
import gpu_xxl_collect  # noqa: E402


def test_synthetic_frames_feed_every_spec_in_record_order() -> None:
    specs = [FrameSpec(Fraction(8), 64, 64), FrameSpec(Fraction(25), 32, 24, "cover", "gray")]
    frames = list(gpu_xxl.SyntheticFrames(2.0).stream(specs))

    counts = [sum(1 for f in frames if f.spec_index == i) for i in range(2)]
    assert counts == [16, 50]
    assert [f.record_time_s for f in frames] == sorted(f.record_time_s for f in frames)
    shapes = {f.spec_index: f.pixels.shape for f in frames}
    assert shapes == {0: (64, 64, 3), 1: (24, 32)}
    first, later = (f.pixels for f in frames if f.spec_index == 0 and f.index in (0, 15))
    assert (first != later).any()  # the box moves


def test_only_the_auto_cases_run_under_a_memory_cap() -> None:
    assert all((case.cap_gib is None) == (case.preset != "auto") for case in gpu_xxl.CASES)
    caps = [case.cap_gib for case in gpu_xxl.CASES if case.cap_gib is not None]
    assert caps == [8, 12, 16, 24]


def test_when_time_runs_short_the_large_caps_go_first_and_default_stays() -> None:
    def runnable(budget: float) -> list[str]:
        pending, spent, ran = list(gpu_xxl.CASES), 0.0, []
        for number, case in enumerate(pending):
            if not gpu_xxl._too_late(case, pending[number + 1 :], budget - spent):
                spent += case.expected_s
                ran.append(case.name)
        return ran

    everything = sum(case.expected_s for case in gpu_xxl.CASES)
    assert runnable(everything) == [case.name for case in gpu_xxl.CASES]
    short = runnable(everything - 100)
    dropped = {case.name for case in gpu_xxl.CASES} - set(short)
    assert "default" in short and "reference" in short
    assert dropped and dropped <= {"auto@16GB", "auto@24GB"}
    assert [case.name for case in gpu_xxl.CASES][-1] == "default"


def _record(case: str, device: str, peak: int, wall: float, **extra: object) -> dict:
    return {
        "case": case,
        "device": device,
        "device_name": "test device",
        "torch": "x",
        "clip": {"seconds": 30.0, "width": 1920, "height": 1080, "fps": 25},
        "peak_memory_bytes": peak,
        "wall_s": wall,
        "settings": {},
        **extra,
    }


def test_the_collector_files_gpu_runs_only_and_checks_the_targets(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    gb = 10**9
    records = [
        _record("reference", "cuda", 23 * gb, 8.0),
        _record("reference+encoder_offload", "cuda", 11 * gb, 8.6),
        _record(
            "extreme+streamed+fp8",
            "cuda",
            2 * gb,
            14.0,
            streamed_bytes=500 * gb,
            host_to_device_bytes_per_second=50 * gb,
        ),
        {"case": "default", "error": "timed out"},
    ]
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    records, comparisons = gpu_xxl_collect.read_run(run)
    document = gpu_xxl_collect.results_document(records, comparisons, str(run))

    assert [r["case"] for r in document["runs"]][:2] == ["reference", "reference+encoder_offload"]
    assert document["errors"] == [{"case": "default", "error": "timed out"}]
    met = {row["target"].split(":")[0]: row["met"] for row in document["targets"]}
    assert met["reference resident end to end under 10 s"] is True
    assert met["reference+encoder_offload"] is True  # 11 GB, 1.075x the resident time
    extreme = next(r for r in document["targets"] if r["target"].startswith("extreme"))
    assert extreme["transfer_s"] == 10.0 and extreme["time_ratio"] == 1.4
    assert extreme["met"] is False

    cpu = tmp_path / "cpu"
    cpu.mkdir()
    (cpu / "results.jsonl").write_text(json.dumps(_record("reference", "cpu", 1, 1.0)) + "\n")
    argv = ["gpu_xxl_collect.py", str(cpu), "--output", str(gpu_xxl_collect.RESULTS)]
    results = gpu_xxl_collect.RESULTS
    before = results.read_bytes() if results.exists() else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", argv)
        with pytest.raises(gpu_xxl_collect.CollectError, match="GPU measurements only"):
            gpu_xxl_collect.main()
    assert (results.read_bytes() if results.exists() else None) == before

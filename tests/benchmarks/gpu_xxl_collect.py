"""Turn a lent-GPU run of gpu_xxl.py into tests/benchmarks/results/gpu_xxl.json, check the
issue's targets, and refit the planner's CUDA calibration from it.

    .venv/bin/python tests/benchmarks/gpu_xxl_collect.py RUN_DIR [--refit]

RUN_DIR holds what the device run returned (`results.jsonl`, `comparisons.json`). The results
file is written only from a CUDA run: the figures name their device and never come from
anywhere else (a CPU dry run may be collected with `--output` elsewhere to check this script).
`--refit` fits the CUDA section of plugin_server/planning/calibration.json (or `--calibration`)
on the resident runs (offloaded and streamed runs also spend time on transfers, which the
planner prices from the measured bandwidth instead) and records that bandwidth.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from plugin_server.planning.calibrate import CalibrationFitError, fit_calibration  # noqa: E402
from plugin_server.planning.calibration import CALIBRATION_FILE, write_calibration  # noqa: E402

log = logging.getLogger("gpu_xxl_collect")

RESULTS = ROOT / "tests" / "benchmarks" / "results" / "gpu_xxl.json"
GB = 10**9
KEYS = (
    "case", "chosen_preset", "peak_memory_bytes", "peak_reserved_bytes", "wall_s", "load_s",
    "stage_seconds", "compile_seconds", "streamed_bytes", "placement", "predicted_peak_bytes",
    "predicted_s", "settings", "fallback_steps", "notes",
)  # fmt: skip


class CollectError(ValueError):
    """The run directory cannot be collected (missing file, not a GPU run, no runs)."""


def read_run(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(result records, comparisons) of a device run directory."""
    path = run_dir / "results.jsonl"
    if not path.exists():
        raise CollectError(f"{path}: no results; point at the folder the device run returned")
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    latest: dict[str, dict[str, Any]] = {}
    for record in records:  # a rerun's record replaces an earlier failure of the same case
        if "error" not in record or record["case"] not in latest:
            latest[record["case"]] = record
    comparisons_path = run_dir / "comparisons.json"
    comparisons = (
        json.loads(comparisons_path.read_text("utf-8")) if comparisons_path.exists() else []
    )
    return list(latest.values()), comparisons


def targets(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's three targets, each with its measured figures and whether it is met."""
    rows: list[dict[str, Any]] = []
    resident = runs.get("reference")
    offloaded = runs.get("reference+encoder_offload")
    streamed = runs.get("reference+streamed")
    if resident:
        rows.append(
            {
                "target": "reference resident end to end under 10 s",
                "wall_s": resident["wall_s"],
                "met": resident["wall_s"] < 10,
            }
        )
    for run in (offloaded, streamed):
        if resident and run:
            ratio = run["wall_s"] / resident["wall_s"]
            rows.append(
                {
                    "target": f"{run['case']}: under 12 GB at no more than 1.1x the resident time",
                    "peak_gb": run["peak_memory_bytes"] / GB,
                    "time_ratio": round(ratio, 3),
                    "met": run["peak_memory_bytes"] < 12 * GB and ratio <= 1.1,
                }
            )
    extreme = runs.get("extreme+streamed+fp8")
    if extreme and extreme.get("host_to_device_bytes_per_second"):
        transfers = extreme["streamed_bytes"] / extreme["host_to_device_bytes_per_second"]
        ratio = extreme["wall_s"] / transfers if transfers else None
        rows.append(
            {
                "target": "extreme under 4 GB at no more than 1.3x the PCIe transfer time",
                "peak_gb": extreme["peak_memory_bytes"] / GB,
                "transfer_s": round(transfers, 3),
                "time_ratio": None if ratio is None else round(ratio, 3),
                "met": extreme["peak_memory_bytes"] < 4 * GB and ratio is not None and ratio <= 1.3,
            }
        )
    return rows


def results_document(
    records: list[dict[str, Any]], comparisons: list[dict[str, Any]], source: str
) -> dict[str, Any]:
    runs = [r for r in records if "error" not in r]
    if not runs:
        raise CollectError(f"{source}: no case finished")
    first = runs[0]
    document: dict[str, Any] = {
        "benchmark": "gpu_xxl",
        "device_name": first["device_name"],
        "device": first["device"],
        "torch": first["torch"],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "host_to_device_bytes_per_second": first.get("host_to_device_bytes_per_second"),
        "clip": first["clip"],
        "runs": [],
        "errors": [r for r in records if "error" in r],
        "comparisons": comparisons,
    }
    for run in runs:
        row = {key: run.get(key) for key in KEYS}
        if "cap_bytes" in run:
            row["cap_bytes"] = run["cap_bytes"]
        document["runs"].append(row)
    # The targets are about GPU memory; a CPU dry run has none to check.
    on_gpu = document["device"].startswith("cuda")
    document["targets"] = targets({run["case"]: run for run in runs}) if on_gpu else []
    return document


def calibration_document(records: list[dict[str, Any]], source: str) -> dict[str, Any]:
    """The runs in the format plugin_server/planning/calibrate.py fits (resident runs only)."""
    runs = [
        r
        for r in records
        if "error" not in r
        and not r["settings"]["encoder_offload"]
        and not r["settings"]["stagewise_offload"]
        and r["settings"]["stream_blocks"] is None
    ]
    first = runs[0]
    kind = "cuda" if first["device"].startswith("cuda") else "cpu"
    return {
        "kind": "measurement",
        "device": {"kind": kind, "description": first["device_name"]},
        "model_size": "xxl" if kind == "cuda" else "tiny",
        "clip": {"duration_s": first["clip"]["seconds"]},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"torch_threads": first.get("torch_threads", "unknown")},
        "presets": [{"stages": run["stages"]} for run in runs],
        "source": source,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--refit", action="store_true")
    parser.add_argument("--calibration", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    records, comparisons = read_run(args.run_dir)
    document = results_document(records, comparisons, str(args.run_dir))
    on_gpu = document["device"].startswith("cuda")
    if not on_gpu and args.output.resolve() == RESULTS.resolve():
        raise CollectError(
            f"{args.run_dir} is a {document['device']} run; {RESULTS.name} holds GPU measurements "
            "only (use --output elsewhere for a dry run)"
        )
    temporary = args.output.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temporary.replace(args.output)
    log.info("wrote %s (%d runs, %d errors)", args.output, len(document["runs"]),
             len(document["errors"]))  # fmt: skip
    for row in document["targets"]:
        log.info("target %s: %s", row["target"], "met" if row["met"] else "missed")
    if args.refit:
        calibration = fit_calibration(
            [calibration_document(records, str(args.output))], [str(args.output)]
        )
        bandwidth = document["host_to_device_bytes_per_second"]
        if bandwidth:
            calibration = replace(calibration, host_to_device_bytes_per_second=float(bandwidth))
        write_calibration(calibration, args.calibration)
        log.info("refitted the %s calibration in %s", calibration.kind, args.calibration)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CollectError, CalibrationFitError) as error:
        log.error("%s", error)
        sys.exit(1)

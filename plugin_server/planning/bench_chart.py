"""A PNG chart of a preset benchmark document: peak memory per stage and wall time per stage.

Left: each case's peak per stage (bars side by side; the case's peak is the tallest), with the
planner's predicted peak as a marker. Right: each case's wall time, stacked by stage.
matplotlib is imported here only, so the rest of the planner never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_STAGE_COLOURS = {
    "load": "#9e9e9e",
    "text": "#8dd3c7",
    "frames": "#80b1d3",
    "sampling": "#fb8072",
    "decode": "#fdb462",
}
MIB = 1024**2


def write_chart(document: dict[str, Any], path: Path) -> Path:
    """Draw `document` (bench.bench_document's) into the PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to the file
    from matplotlib import pyplot

    rows = document["presets"]
    names = [row["preset"] for row in rows]
    stages = [name for name in _STAGE_COLOURS if any(_stage(row, name) for row in rows)]
    figure, (memory_axis, time_axis) = pyplot.subplots(
        1, 2, figsize=(15, 0.45 * len(rows) + 2.5), sharey=True
    )
    measured = document["kind"] == "measurement"
    peak_key, seconds_key = (
        ("peak_bytes", "seconds") if measured else ("predicted_peak_bytes", "predicted_seconds")
    )
    height = 0.8 / max(1, len(stages))
    for offset, stage in enumerate(stages):
        positions = [i - 0.4 + (offset + 0.5) * height for i in range(len(rows))]
        values = [_value(_stage(row, stage), peak_key) / MIB for row in rows]
        memory_axis.barh(positions, values, height, color=_STAGE_COLOURS[stage], label=stage)
    predicted = [row["predicted_peak_memory_bytes"] / MIB for row in rows]
    memory_axis.scatter(predicted, range(len(rows)), marker="|", s=300, color="black", zorder=3)
    memory_axis.set_xlabel("peak memory per stage (MiB); | = planner's predicted clip peak")
    left = [0.0] * len(rows)
    for stage in stages:
        values = [_value(_stage(row, stage), seconds_key) for row in rows]
        time_axis.barh(range(len(rows)), values, 0.7, left=left, color=_STAGE_COLOURS[stage])
        left = [a + b for a, b in zip(left, values, strict=True)]
    time_axis.set_xlabel("wall time per stage (s), stacked")
    memory_axis.set_yticks(range(len(rows)), names)
    memory_axis.invert_yaxis()
    handles, labels = memory_axis.get_legend_handles_labels()
    time_axis.legend(handles, labels, loc="lower right", fontsize="small")
    device = document["device"]
    clip = document["clip"]
    what = "measured" if measured else "PREDICTED by the planner (not measured)"
    figure.suptitle(
        f"Presets, {document['model_size']} model, {clip['duration_s']:g} s "
        f"{clip['width']}x{clip['height']} clip on {device['description']} - {what}"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def _stage(row: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((stage for stage in row["stages"] if stage["stage"] == name), None)


def _value(stage: dict[str, Any] | None, key: str) -> float:
    if stage is None or stage.get(key) is None:
        return 0.0
    return float(stage[key])

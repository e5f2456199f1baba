"""The loss curve of a run as a PNG: every step's loss and a running mean, against the step.

matplotlib is imported here only (an optional package; the planner's charts use it too).
Without it the curve is drawn by a few lines of numpy and written with zlib, so a run always
leaves a picture of how it went.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def running_mean(values: Sequence[float], window: int = 20) -> np.ndarray:
    """Mean of the last `window` values at each step (fewer at the start)."""
    data = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.concatenate([[0.0], data]))
    counts = np.minimum(np.arange(1, data.size + 1), window)
    return (sums[1:] - sums[np.arange(1, data.size + 1) - counts]) / counts


def write_loss_curve(path: Path, losses: Sequence[float], title: str = "") -> None:
    """Write the PNG at `path` (replacing it only once the new one is complete)."""
    if not losses:
        return
    partial = path.with_name(path.name + ".partial")
    try:
        _with_matplotlib(partial, losses, title)
    except ImportError:
        _with_numpy(partial, losses)
    partial.replace(path)


def _with_matplotlib(path: Path, losses: Sequence[float], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to the file
    from matplotlib import pyplot

    steps = np.arange(1, len(losses) + 1)
    figure, axes = pyplot.subplots(figsize=(7, 4), dpi=100)
    axes.plot(steps, losses, color="#9ab", linewidth=0.8, label="loss per step")
    axes.plot(steps, running_mean(losses), color="#c33", linewidth=1.6, label="running mean (20)")
    axes.set_xlabel("step")
    axes.set_ylabel("flow-matching loss (MSE)")
    axes.set_title(title or "LoRA fine-tuning")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
    pyplot.close(figure)


def _with_numpy(path: Path, losses: Sequence[float], width: int = 640, height: int = 360) -> None:
    """A plain raster plot: light grey per-step loss, red running mean, white background."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    margin = 20
    values = np.asarray(losses, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    span = high - low or 1.0

    def draw(series: np.ndarray, colour: tuple[int, int, int]) -> None:
        xs = margin + np.linspace(0, width - 2 * margin - 1, series.size)
        ys = height - margin - 1 - (series - low) / span * (height - 2 * margin - 1)
        for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:], strict=True):
            count = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
            rows = np.linspace(y0, y1, count).round().astype(int)
            cols = np.linspace(x0, x1, count).round().astype(int)
            image[rows, cols] = colour
        if series.size == 1:
            image[int(ys[0]), int(xs[0])] = colour

    image[height - margin, margin : width - margin] = 0  # x axis
    image[margin : height - margin, margin] = 0  # y axis
    draw(values, (160, 170, 190))
    draw(running_mean(values), (200, 40, 40))
    rows = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )

"""A small terminal progress display: one bar per clip in flight and one for the whole job.

On a terminal the block of bars is redrawn in place (ANSI cursor movement) and finished clips
scroll above it as permanent lines; elsewhere (logs, CI) only finished clips and the overall
percentage are printed, one line each. Written to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

_BAR_WIDTH = 24
_MIN_REDRAW_S = 0.1


@dataclass
class _ClipState:
    label: str
    stage: str = "queued"
    percent: float = 0.0
    active: bool = False


class ProgressDisplay:
    """Feed it clip events; it draws. Thread-safe."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interactive: bool | None = None,
        min_redraw_s: float = _MIN_REDRAW_S,
    ) -> None:
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty() if interactive is None else interactive
        self._min_redraw_s = min_redraw_s
        self._clips: dict[str, _ClipState] = {}
        self._done = 0
        self._drawn_lines = 0
        self._last_draw = 0.0
        self._last_overall = -1
        self._fraction = 0.0
        # Nothing is drawn before the job is accepted: a connection error must not be preceded
        # by "overall 100% (0/0 clips)".
        self._started = False
        self._lock = threading.Lock()

    def start(self, clips: list[tuple[str, str]], header: str = "") -> None:
        """`clips` are (clip id, label) pairs of every clip of the job (those refused at
        planning too, so that the total is right from the start)."""
        with self._lock:
            self._started = True
            self._clips = {clip_id: _ClipState(label) for clip_id, label in clips}
            self._done = 0
            self._fraction = 0.0
            if header:
                self._print_line(header)
            self._draw(force=True)

    def progress(self, clip_id: str, stage: str, percent: float) -> None:
        with self._lock:
            state = self._clips.setdefault(clip_id, _ClipState(clip_id))
            state.stage, state.percent, state.active = stage, percent, True
            self._draw()

    def finished(self, clip_id: str, message: str, label: str = "") -> None:
        """A clip is done (generated, cached, failed...); `message` is its permanent line.
        `label` names a clip that was not among those started (one skipped at planning)."""
        with self._lock:
            state = self._clips.pop(clip_id, None)
            label = state.label if state else (label or clip_id)
            self._done += 1
            self._print_line(f"{label}  {message}")
            self._draw(force=True)

    def note(self, message: str) -> None:
        with self._lock:
            self._print_line(message)
            self._draw(force=True)

    def close(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._draw(force=True)
            if self._interactive and self._drawn_lines:
                self._stream.write("\n")
                self._drawn_lines = 0
            self._stream.flush()

    # -- drawing (lock held) -------------------------------------------------------------------

    def _overall(self) -> tuple[int, float]:
        """(clips in the job, fraction done). Engines restart their percentage at each stage,
        so the fraction is held at its highest value rather than allowed to go back."""
        total = self._done + len(self._clips)
        # A clip counts fully only once finished (its file written), not at 100% of a stage.
        running = sum(0.99 * state.percent / 100 for state in self._clips.values())
        fraction = (self._done + running) / total if total else 1.0
        self._fraction = max(self._fraction, min(1.0, fraction))
        return total, self._fraction

    def _print_line(self, text: str) -> None:
        self._erase()
        self._stream.write(text + "\n")

    def _erase(self) -> None:
        if self._interactive and self._drawn_lines:
            # Up to the first drawn line, then clear everything below it.
            self._stream.write(f"\x1b[{self._drawn_lines}F\x1b[J")
            self._drawn_lines = 0

    def _draw(self, *, force: bool = False) -> None:
        if not self._started:
            return
        now = time.monotonic()
        total, fraction = self._overall()
        if not self._interactive:
            # Plain output: one line per ten percent of the whole job.
            overall = int(fraction * 100)
            if overall // 10 > self._last_overall // 10:
                self._stream.write(f"overall {overall:3d}% ({self._done}/{total} clips)\n")
                self._last_overall = overall
            self._stream.flush()
            return
        if not force and now - self._last_draw < self._min_redraw_s:
            return
        self._last_draw = now
        self._erase()
        lines = [
            f"{_bar(state.percent)} {state.percent:5.1f}% {state.stage:<10.10} {state.label}"
            for state in self._clips.values()
            if state.active
        ]
        lines.append(
            f"{_bar(fraction * 100)} {fraction * 100:5.1f}% overall ({self._done}/{total})"
        )
        self._stream.write("\n".join(lines) + "\n")
        self._drawn_lines = len(lines)
        self._stream.flush()


def _bar(percent: float) -> str:
    filled = round(max(0.0, min(100.0, percent)) / 100 * _BAR_WIDTH)
    return "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]"

"""The training progress line on stderr: step, loss, speed and time left.

On a terminal one line is redrawn in place; elsewhere (logs, CI) a line is printed every
`every_s` seconds and at the end, so a log shows the loss going down without a flood.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_BAR_WIDTH = 24


class TrainingProgress:
    """Feed it each step's loss; it draws."""

    def __init__(
        self,
        total_steps: int,
        first_step: int = 0,
        *,
        windows_per_step: int = 1,
        window_s: float = 0.0,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        every_s: float = 10.0,
    ) -> None:
        self.total = total_steps
        self.first = first_step
        self.windows_per_step = windows_per_step
        self.window_s = window_s
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.every_s = every_s
        self._started = time.monotonic()
        self._last_print = -float("inf")
        self._average: float | None = None

    def step(self, step: int, loss: float) -> None:
        """Report that step `step` (1-based) finished with `loss`."""
        # An exponential average over ~20 steps: the loss of one step is noisy (random sigma).
        self._average = loss if self._average is None else 0.95 * self._average + 0.05 * loss
        now = time.monotonic()
        done = step == self.total
        if not (self.interactive or done or now - self._last_print >= self.every_s):
            return
        self._last_print = now
        line = self.line(step, loss, now - self._started)
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if done else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def line(self, step: int, loss: float, elapsed_s: float) -> str:
        steps_done = max(1, step - self.first)
        rate = steps_done / max(elapsed_s, 1e-9)
        left_s = (self.total - step) / rate if rate > 0 else 0.0
        filled = round(_BAR_WIDTH * step / max(1, self.total))
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        audio_rate = rate * self.windows_per_step * self.window_s
        return (
            f"step {step}/{self.total} [{bar}] loss {loss:.4f} (avg {self._average:.4f}) "
            f"{rate:.2f} step/s ({audio_rate:.1f} s of audio/s) left {_clock(left_s)}"
        )


def _clock(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"

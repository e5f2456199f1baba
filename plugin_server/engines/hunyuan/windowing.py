"""Long clips in overlapping windows, with continuity, batching and the final join.

Lengths are in latent frames (50 per second, 960 samples each at 48 kHz). Window starts and
lengths are multiples of `GRID` = 16 latent frames (0.32 s): that is one Synchformer hop
(8 frames at 25 fps), so every window's sync tokens are exactly a run of the clip's segments.

Continuity (what this engine does between windows):
- The initial noise is drawn once for the whole clip and each window takes its slice, so the
  frames two windows share start from the same noise.
- Within one transformer batch (`batch_size` windows) the windows are sampled side by side and
  independently. The first window of each batch continues the previous window: its first
  `overlap` frames are fixed to that window's final latent by inpainting-style replacement at
  every sampler step (`sampler.KnownLatent`), so the model generates the rest consistent with
  the audio already there.
- A run of windows linked that way is one continuous latent (the shared frames are identical)
  and is decoded as one sequence. Independent neighbours (a new run) are decoded separately and
  joined with an equal-power crossfade centred in their overlap (`media.windows.join_windows`):
  equal power is right there because the two signals are uncorrelated, and no crossfade is
  applied where the two sides are the same latent (it would add up to 3 dB).
With `batch_size` 1 (every preset) a clip is one run: fully sequential, fully continuous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from plugin_server.presets.settings import ADAPTIVE, GenerationSettings

GRID = 16
"""Latent frames per window-grid step: one Synchformer hop (8 frames at 25 fps) = 0.32 s."""

MODEL_WINDOW_LIMIT_S = 15.0
"""Longest window `adaptive` makes: the reference never generates more than 15 s at once."""


@dataclass(frozen=True)
class Window:
    """Latent frames [start, start + frames) of the clip. `context` > 0: the first `context`
    frames continue the previous window (fixed to its latent while sampling)."""

    index: int
    start: int
    frames: int
    context: int = 0

    @property
    def end(self) -> int:
        return self.start + self.frames


@dataclass(frozen=True)
class WindowPlan:
    """Every window of one clip, its batches and its continuous runs."""

    total_frames: int
    window_frames: int
    overlap: int
    windows: tuple[Window, ...]
    batches: tuple[tuple[int, ...], ...]

    @property
    def runs(self) -> tuple[tuple[int, ...], ...]:
        """Groups of window indices whose latents join without a seam (see module docstring)."""
        runs: list[list[int]] = []
        for window in self.windows:
            if window.context and runs:
                runs[-1].append(window.index)
            else:
                runs.append([window.index])
        return tuple(tuple(run) for run in runs)


def window_limit_frames(settings: GenerationSettings, latent_rate: int) -> int:
    """The longest window in latent frames: `max_audio_duration`, or the model limit when
    adaptive."""
    seconds = (
        MODEL_WINDOW_LIMIT_S
        if settings.max_audio_duration == ADAPTIVE
        else float(settings.max_audio_duration)
    )
    return max(GRID, int(seconds * latent_rate) // GRID * GRID)


def plan_windows(
    total_frames: int, limit_frames: int, overlap_frames: int, batch_size: int = 1
) -> WindowPlan:
    """Cover `total_frames` with grid-aligned windows no longer than `limit_frames`.

    A clip that fits is one window of exactly its length. Otherwise windows of equal length
    overlap by `overlap_frames` (rounded up to the grid, at least one grid step) and the last
    window ends at the clip's end. Batches hold up to `batch_size` consecutive windows of equal
    length; the first window of each batch after the first continues its predecessor.
    """
    if total_frames < 1:
        raise ValueError(f"a clip needs at least one latent frame, got {total_frames}")
    if total_frames <= limit_frames:
        only = Window(0, 0, total_frames)
        return WindowPlan(total_frames, total_frames, 0, (only,), ((0,),))
    overlap = max(GRID, math.ceil(overlap_frames / GRID) * GRID)
    limit = limit_frames // GRID * GRID
    if limit <= overlap:
        raise ValueError(
            f"windows of {limit} latent frames cannot overlap by {overlap}; use a longer "
            "max_audio_duration or a shorter overlap"
        )
    count = math.ceil((total_frames - overlap) / (limit - overlap))
    stride = math.ceil((total_frames - overlap) / count / GRID) * GRID
    starts = [i * stride for i in range(count)]
    # The even spread can leave nothing new for the last window: let the one before end there.
    while len(starts) > 1 and total_frames - starts[-1] <= overlap:
        starts.pop()
    length = stride + overlap
    spans = [(start, min(length, total_frames - start)) for start in starts]
    spans[-1] = (starts[-1], total_frames - starts[-1])
    batches = _batches(spans, batch_size)
    first_in_batch = {batch[0] for batch in batches}
    windows = tuple(
        Window(i, start, frames, context=overlap if i in first_in_batch and i > 0 else 0)
        for i, (start, frames) in enumerate(spans)
    )
    return WindowPlan(total_frames, length, overlap, windows, batches)


def _batches(spans: list[tuple[int, int]], batch_size: int) -> tuple[tuple[int, ...], ...]:
    batches: list[list[int]] = []
    for index, (_, frames) in enumerate(spans):
        last = batches[-1] if batches else None
        if last is not None and len(last) < batch_size and spans[last[0]][1] == frames:
            last.append(index)
        else:
            batches.append([index])
    return tuple(tuple(batch) for batch in batches)

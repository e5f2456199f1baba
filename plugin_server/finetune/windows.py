"""Equal-length training windows cut from the cached features, batch by batch.

Every window of a run has the same length (so any pairs can share a batch): the requested
window, shortened to the shortest pair, on generation's 0.32 s grid (`windowing.GRID`, one
Synchformer hop). A window starts on that grid too, so its Synchformer tokens are exactly a run
of the pair's segments and its SigLIP2 frames are read on the 8 fps grid from its start, as
generation feeds a window. Which pairs form batch n is fixed by the seed and n alone (a new
shuffled order every pass over the data); where each window starts is drawn from the run's
generator, whose state the checkpoints keep.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from plugin_server.engines.hunyuan.features import clip_grid_count
from plugin_server.engines.hunyuan.frame_sampling import LATENT_RATE_HZ, sync_segment_count
from plugin_server.engines.hunyuan.windowing import GRID
from plugin_server.finetune.errors import FinetuneError
from plugin_server.finetune.extraction import EMPTY_PROMPT
from plugin_server.finetune.feature_cache import PairFeatures, TextTable


@dataclass(frozen=True)
class Batch:
    """B windows, float32 on the host.

    latent [B, C, T] clean DAC-VAE latents (50 frames/s); clip [B, N8, Dc] SigLIP2 on the 8 fps
    grid; sync [B, 8*S, Ds] Synchformer tokens; text [B, L, Dt] CLAP states; `dropped` [B] bool:
    windows whose conditions are replaced by the empty ones (classifier-free guidance dropout).
    """

    latent: torch.Tensor
    clip: torch.Tensor
    sync: torch.Tensor
    text: torch.Tensor
    dropped: torch.Tensor
    pair_ids: tuple[str, ...]


def window_frames(features: Sequence[PairFeatures], window_s: float) -> int:
    """The run's window length in latent frames: `window_s` on the grid, at most the shortest
    pair's usable length; raises FinetuneError when a pair is shorter than one grid step."""
    wanted = max(GRID, math.floor(window_s * LATENT_RATE_HZ / GRID) * GRID)
    shortest = min(_usable_frames(pair) for pair in features)
    frames = min(wanted, shortest)
    if frames < GRID:
        raise FinetuneError(
            f"a pair is shorter than {GRID / LATENT_RATE_HZ:.2f} s; it cannot make a window"
        )
    return frames


def _usable_frames(pair: PairFeatures) -> int:
    """Latent frames of the pair covered by picture features, on the grid."""
    latent = pair.latent.shape[-1]
    picture = 2 * pair.picture.sync_frames  # 25 fps frames -> 50 latent frames/s
    return (min(latent, max(picture, GRID)) // GRID) * GRID


class WindowSampler:
    """Cuts batches of `frames`-long windows from `features` (see the module docstring)."""

    def __init__(
        self,
        features: Sequence[PairFeatures],
        text: TextTable,
        *,
        frames: int,
        batch_size: int,
        seed: int,
        condition_dropout: float = 0.0,
    ) -> None:
        if len(features) < batch_size:
            raise FinetuneError(f"{len(features)} pairs are fewer than the batch size {batch_size}")
        self.features = list(features)
        self.text = text
        self.frames = frames
        self.batch_size = batch_size
        self.seed = seed
        self.condition_dropout = condition_dropout
        self._orders: dict[int, list[int]] = {}

    def pairs_of_batch(self, step: int) -> list[int]:
        """Indices of the pairs in batch `step` (0-based): consecutive slices of a shuffled
        order, a new order per pass, each depending only on the seed and the pass number."""
        count = len(self.features)
        chosen = []
        for position in range(step * self.batch_size, (step + 1) * self.batch_size):
            epoch, index = divmod(position, count)
            chosen.append(self._order(epoch)[index])
        return chosen

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        """Batch `step`, its window starts and dropout drawn from `generator` (CPU)."""
        latents, clips, syncs, texts, ids = [], [], [], [], []
        for index in self.pairs_of_batch(step):
            pair = self.features[index]
            start = self._start(pair, generator)
            latent, clip, sync = self.window(pair, start)
            latents.append(latent)
            clips.append(clip)
            syncs.append(sync)
            texts.append(self.text.of(pair.prompt))
            ids.append(pair.pair_id)
        dropped = torch.rand(len(ids), generator=generator) < self.condition_dropout
        empty = self.text.of(EMPTY_PROMPT)
        text = torch.stack([empty if drop else t for drop, t in zip(dropped, texts, strict=True)])
        return Batch(
            latent=torch.stack(latents),
            clip=torch.stack(clips),
            sync=torch.stack(syncs),
            text=text,
            dropped=dropped,
            pair_ids=tuple(ids),
        )

    def window(
        self, pair: PairFeatures, start: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(latent [C, T], SigLIP2 [N8, Dc], Synchformer [8*S, Ds]) of the window at latent
        frame `start` (a multiple of the grid)."""
        frames = self.frames
        latent = pair.latent[:, start : start + frames]
        picture = pair.picture
        clip = picture.clip_grid(start / LATENT_RATE_HZ, clip_grid_count(frames / LATENT_RATE_HZ))
        sync = picture.sync_window(start // 2, frames // 2)
        wanted = 8 * max(1, sync_segment_count(frames // 2))
        if sync.shape[0] < wanted:
            # A pair padded to one segment (shorter than 0.64 s of frames): repeat its tokens.
            repeats = math.ceil(wanted / sync.shape[0])
            sync = sync.repeat(repeats, 1)[:wanted]
        return latent, clip, sync

    def _start(self, pair: PairFeatures, generator: torch.Generator) -> int:
        """A random grid start whose window stays inside the latent and the sync segments."""
        frames = self.frames
        last_by_latent = pair.latent.shape[-1] - frames
        segments_needed = max(1, sync_segment_count(frames // 2))
        last_by_sync = GRID * (pair.picture.sync_segments - segments_needed)
        last = max(0, min(last_by_latent, last_by_sync))
        choices = last // GRID + 1
        return GRID * int(torch.randint(choices, (1,), generator=generator))

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            shuffle = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._orders = {epoch: torch.randperm(len(self.features), generator=shuffle).tolist()}
        return self._orders[epoch]

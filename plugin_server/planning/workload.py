"""Every length one clip produces under one set of settings, derived in one place.

Windows come from the engine's own planner (`engines.hunyuan.windowing`, torch-free), so the
memory model sees exactly the windows the engine will sample: `adaptive` means windows of at
most 15 s, overlapping by `window_overlap_s`, all the same length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from plugin_server.engines.hunyuan.windowing import WindowPlan, plan_windows, window_limit_frames
from plugin_server.planning.model_dims import (
    AUDIO_HOP,
    LATENT_RATE_HZ,
    SYNC_FPS,
    SYNC_SEGMENT_FRAMES,
    SYNC_SEGMENT_HOP,
    SYNC_TOKENS_PER_SEGMENT,
)
from plugin_server.presets.settings import GenerationSettings

DEFAULT_WINDOW_OVERLAP_S = 0.96  # the hunyuan engine's default `window_overlap_s` option
MODEL_CLIP_FPS = 8  # the transformer's visual grid, whatever frame_sampling_rate samples


@dataclass(frozen=True)
class Workload:
    """Lengths for one clip of `duration_s` record seconds.

    Frame counts are the clip's; token counts are per transformer call (one batch of windows).
    """

    duration_s: float
    settings: GenerationSettings
    windows: WindowPlan

    @property
    def latent_frames_total(self) -> int:
        return self.windows.total_frames

    @property
    def window_frames(self) -> int:
        """Audio tokens of the longest window (50 per second)."""
        return self.windows.window_frames

    @property
    def window_s(self) -> float:
        return self.window_frames / LATENT_RATE_HZ

    @property
    def window_count(self) -> int:
        return len(self.windows.windows)

    @property
    def batches(self) -> int:
        """Transformer batches: windows sampled side by side, up to batch_size at once."""
        return len(self.windows.batches)

    @property
    def windows_per_batch(self) -> int:
        return max(len(batch) for batch in self.windows.batches)

    @property
    def visual_tokens(self) -> int:
        """SigLIP2 tokens per window: the 8 fps grid the features are resampled onto."""
        return max(1, math.ceil(self.window_s * MODEL_CLIP_FPS - 1e-6))

    @property
    def sync_tokens(self) -> int:
        """Synchformer tokens per window: 8 per 16-frame segment of its 25 fps frames."""
        return SYNC_TOKENS_PER_SEGMENT * max(1, segment_count(self.window_frames // 2))

    @property
    def guided(self) -> bool:
        """Classifier-free guidance runs only with a scale above 1 (else the conditional alone)."""
        return self.settings.guidance_scale > 1

    @property
    def guidance_passes(self) -> int:
        """Sequences per window in one transformer call: 2 with batched CFG, else 1."""
        return 2 if self.guided and self.settings.cfg_mode == "batched" else 1

    @property
    def model_batch(self) -> int:
        return self.windows_per_batch * self.guidance_passes

    @property
    def transformer_calls(self) -> int:
        """Forward passes of the transformer for the whole clip."""
        passes = 2 if self.guided and self.settings.cfg_mode == "sequential" else 1
        return self.batches * self.settings.diffusion_timesteps * passes

    @property
    def image_frames_total(self) -> int:
        """SigLIP2 frames encoded for the clip, at frame_sampling_rate."""
        return max(1, math.ceil(self.duration_s * self.settings.frame_sampling_rate - 1e-6))

    @property
    def image_frames_per_call(self) -> int:
        """SigLIP2 frames in one encoder batch: cache_clear_interval, else all of them."""
        chunk = self.settings.cache_clear_interval
        return min(chunk or self.image_frames_total, self.image_frames_total)

    @property
    def sync_frames_total(self) -> int:
        """Synchformer frames read for the clip, at its fixed 25 fps (one segment at least)."""
        return max(SYNC_SEGMENT_FRAMES, math.ceil(self.duration_s * SYNC_FPS - 1e-6))

    @property
    def sync_segments_total(self) -> int:
        return segment_count(self.sync_frames_total)

    @property
    def sync_frames_per_call(self) -> int:
        """25 fps frames held before one Synchformer batch (all, or a chunk of at least 16)."""
        chunk = self.settings.cache_clear_interval
        if chunk is None:
            return self.sync_frames_total
        return min(max(chunk, SYNC_SEGMENT_FRAMES), self.sync_frames_total)

    @property
    def sync_segments_per_call(self) -> int:
        return max(1, segment_count(self.sync_frames_per_call))

    @property
    def vae_frames_per_call(self) -> int:
        """Latent frames one decoder call sees: a chunk (with its context), else a whole run."""
        run = self.latent_frames_total if self.windows_per_batch == 1 else self.window_frames
        chunk_s = self.settings.vae_chunk_seconds
        if chunk_s is None:
            return run
        # The engine widens each chunk by the decoder's receptive field (about 8 frames a side).
        return min(run, max(1, round(chunk_s * LATENT_RATE_HZ)) + 2 * 8)

    @property
    def vae_calls(self) -> int:
        chunk_s = self.settings.vae_chunk_seconds
        if chunk_s is None:
            return len(self.windows.runs)
        return math.ceil(self.latent_frames_total / max(1, round(chunk_s * LATENT_RATE_HZ)))

    @property
    def audio_samples(self) -> int:
        return self.latent_frames_total * AUDIO_HOP


def segment_count(frames: int) -> int:
    """Full 16-frame segments with hop 8 in `frames` frames at 25 fps."""
    return max(0, (frames - SYNC_SEGMENT_FRAMES) // SYNC_SEGMENT_HOP + 1)


def workload(
    settings: GenerationSettings,
    duration_s: float,
    window_overlap_s: float = DEFAULT_WINDOW_OVERLAP_S,
) -> Workload:
    """The lengths `settings` give a clip of `duration_s` record seconds."""
    if not duration_s > 0:
        raise ValueError(f"clip duration must be positive, got {duration_s!r} s")
    total_frames = math.ceil(round(duration_s * 48_000) / AUDIO_HOP)
    plan = plan_windows(
        total_frames,
        window_limit_frames(settings, LATENT_RATE_HZ),
        round(window_overlap_s * LATENT_RATE_HZ),
        settings.batch_size,
    )
    return Workload(duration_s=duration_s, settings=settings, windows=plan)


def window_seconds(settings: GenerationSettings, duration_s: float) -> float:
    """The length of the windows a clip of `duration_s` is generated in, in seconds."""
    return workload(settings, duration_s).window_s

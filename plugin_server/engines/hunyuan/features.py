"""Visual features of one clip: SigLIP2 frames and Synchformer tokens, streamed and chunked.

Default mode reads frames from the clip's `FrameSource` in one decode pass: SigLIP2 frames at
`frame_sampling_rate` (stretched to the encoder's square size) and 25 fps Synchformer frames
(short side to 224, centre crop). Frames are encoded `chunk_frames` at a time (the
`cache_clear_interval` knob): each chunk's features go to the host and the device cache is
released before the next; without a chunk size every frame of the clip is encoded in one batch,
as the reference does. SigLIP2 features are later resampled onto each window's 8 fps grid
(sample and hold), so any sampling rate feeds the model the grid it was trained on.

Reference mode (`--reference-sampling`) decodes the file itself with the official frame clock
and preprocessing (see frame_sampling.py and preprocess.py) and keeps the reference's counts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from plugin_server.engines.base import Cancelled, CancelToken
from plugin_server.engines.hunyuan.frame_sampling import (
    SIGLIP_FPS,
    SYNC_FPS,
    SYNC_SEGMENT_FRAMES,
    SYNC_SEGMENT_HOP,
    ReferenceLengths,
    decode_reference_frames,
    sync_segment_count,
)
from plugin_server.engines.hunyuan.preprocess import (
    siglip_normalize,
    siglip_resize,
    synchformer_resize_crop,
)
from plugin_server.engines.hunyuan.synchformer import SynchformerVisual, sync_features
from plugin_server.engines.hunyuan.text_image_encoders import SiglipImageEncoder
from plugin_server.media.frames import Frame, FrameSource, FrameSpec

log = logging.getLogger(__name__)

_CANCEL_CHECK_FRAMES = 64  # frames between cancel checks while decoding

MODEL_CLIP_FPS = SIGLIP_FPS
"""The transformer's visual grid: 8 SigLIP2 frames per second."""


@dataclass(frozen=True)
class ClipFeatures:
    """Encoded picture of one clip, float32 on the host.

    `siglip` [N, D] with `siglip_times` [N] (record seconds, ascending); `sync` [8*S, Ds]:
    Synchformer tokens of the clip's 25 fps frames from record time 0, segment-major;
    `sync_frames`: 25 fps frames read (before any padding); `notes`: what a user should know.
    """

    siglip: torch.Tensor
    siglip_times: torch.Tensor
    sync: torch.Tensor
    sync_frames: int
    notes: tuple[str, ...] = ()

    @property
    def sync_segments(self) -> int:
        return self.sync.shape[0] // 8

    def clip_grid(self, start_s: float, count: int) -> torch.Tensor:
        """SigLIP2 features on the 8 fps grid start_s + k/8, k < count: [count, D].

        Each grid point takes the last encoded frame shown at or before it (the first frame
        before the first one), so a lower frame_sampling_rate holds frames longer.
        """
        grid = torch.tensor(
            [start_s + k / MODEL_CLIP_FPS for k in range(count)], dtype=torch.float64
        )
        index = torch.searchsorted(self.siglip_times, grid + 1e-6, right=True) - 1
        return self.siglip[index.clamp(min=0)]

    def sync_window(self, first_frame: int, frames: int) -> torch.Tensor:
        """Tokens of the segments inside 25 fps frames [first_frame, first_frame + frames):
        [8*S_w, Ds], at least one segment (the nearest) for windows shorter than a segment.

        `first_frame` must be a multiple of the segment hop (windows start on that grid).
        """
        first = first_frame // SYNC_SEGMENT_HOP
        count = max(1, sync_segment_count(frames))
        first = min(first, self.sync_segments - 1)
        last = min(self.sync_segments, first + count)
        return self.sync[8 * first : 8 * last]


class FrameEncoder:
    """Streams a FrameSource through SigLIP2 and Synchformer in chunks (see module docstring)."""

    def __init__(
        self,
        siglip: SiglipImageEncoder,
        synchformer: SynchformerVisual,
        *,
        siglip_fps: float,
        chunk_frames: int | None,
        sync_autocast: torch.dtype | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.siglip = siglip
        self.synchformer = synchformer
        self.siglip_fps = Fraction(siglip_fps).limit_denominator(1000)
        self.chunk_frames = chunk_frames
        self.sync_autocast = sync_autocast
        self.cancel = cancel
        self._siglip_pixels: list[np.ndarray] = []
        self._siglip_features: list[torch.Tensor] = []
        self._siglip_times: list[float] = []
        self._sync_pixels: list[np.ndarray] = []
        self._sync_features: list[torch.Tensor] = []
        self._sync_read = 0

    def specs(self) -> list[FrameSpec]:
        size = self.siglip.image_size
        sync_size = self.synchformer.config.image_size
        return [
            FrameSpec(fps=self.siglip_fps, width=size, height=size, fit="stretch"),
            FrameSpec(fps=Fraction(SYNC_FPS), width=sync_size, height=sync_size, fit="cover"),
        ]

    def encode(self, source: FrameSource) -> ClipFeatures:
        """Read every frame of `source` once and return the clip's features."""
        for frame in source.stream(self.specs()):
            self._take(frame)
        notes: list[str] = []
        if not self._siglip_times and not self._siglip_pixels:
            raise ValueError("the frame source yielded no SigLIP2 frames")
        self._flush_siglip()
        if self._sync_read < SYNC_SEGMENT_FRAMES:
            if not self._sync_pixels:
                raise ValueError("the frame source yielded no 25 fps frames")
            # Synchformer needs one full 16-frame segment; the reference would fail here.
            missing = SYNC_SEGMENT_FRAMES - len(self._sync_pixels)
            self._sync_pixels.extend([self._sync_pixels[-1]] * missing)
            notes.append(
                f"clip shorter than {SYNC_SEGMENT_FRAMES} frames at 25 fps: the last frame is "
                "repeated to fill one Synchformer segment"
            )
        self._flush_sync(final=True)
        return ClipFeatures(
            siglip=torch.cat(self._siglip_features),
            siglip_times=torch.tensor(self._siglip_times, dtype=torch.float64),
            sync=torch.cat(self._sync_features),
            sync_frames=self._sync_read,
            notes=tuple(notes),
        )

    def _take(self, frame: Frame) -> None:
        if frame.index % _CANCEL_CHECK_FRAMES == 0:
            self._check_cancel()
        if frame.spec_index == 0:
            self._siglip_pixels.append(frame.pixels)
            self._siglip_times.append(frame.record_time_s)
            if self.chunk_frames is not None and len(self._siglip_pixels) >= self.chunk_frames:
                self._flush_siglip()
        else:
            self._sync_pixels.append(frame.pixels)
            self._sync_read += 1
            chunk = max(self.chunk_frames or 0, SYNC_SEGMENT_FRAMES)
            if self.chunk_frames is not None and len(self._sync_pixels) >= chunk:
                self._flush_sync(final=False)

    def _flush_siglip(self) -> None:
        if not self._siglip_pixels:
            return
        self._check_cancel()
        pixels = siglip_normalize(torch.from_numpy(np.stack(self._siglip_pixels)))
        self._siglip_features.append(self.siglip.encode(pixels).cpu())
        self._siglip_pixels.clear()
        _release_cache(self.siglip.model)

    def _flush_sync(self, *, final: bool) -> None:
        count = sync_segment_count(len(self._sync_pixels))
        if count == 0:
            return
        self._check_cancel()
        used = SYNC_SEGMENT_HOP * (count - 1) + SYNC_SEGMENT_FRAMES
        frames = torch.from_numpy(np.stack(self._sync_pixels[:used])).permute(0, 3, 1, 2)
        tokens = sync_features(
            self.synchformer, frames, autocast_dtype=self.sync_autocast, output_device="cpu"
        )
        self._sync_features.append(tokens[0])
        # The next segment starts one hop after the last one encoded; frames past the last full
        # segment at the end of the clip are dropped, as the reference does.
        self._sync_pixels = [] if final else self._sync_pixels[SYNC_SEGMENT_HOP * count :]
        _release_cache(self.synchformer)

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled while encoding frames")


@dataclass(frozen=True)
class ReferenceFeatures:
    """Features exactly as the official pipeline computes them from a whole video file."""

    clip: torch.Tensor  # [N8, D]
    sync: torch.Tensor  # [8*S, Ds]
    lengths: ReferenceLengths


def encode_reference_video(
    path: Path,
    siglip: SiglipImageEncoder,
    synchformer: SynchformerVisual,
    *,
    sync_autocast: torch.dtype | None = None,
) -> ReferenceFeatures:
    """Decode `path` with the official clock (8 and 25 fps, 15 s cut), preprocess exactly as
    the reference, and encode all frames in one batch each."""
    size = siglip.image_size
    siglip_frames = decode_reference_frames(
        path, SIGLIP_FPS, prepare=lambda rgb: siglip_resize(rgb[None], size)[0].numpy()
    )
    sync_frames = decode_reference_frames(
        path, SYNC_FPS, prepare=lambda rgb: synchformer_resize_crop(rgb[None])[0].numpy()
    )
    lengths = ReferenceLengths(len(sync_frames.source_indices))
    if lengths.sync_segments < 1:
        raise ValueError(
            f"{path}: {lengths.n25} frames at 25 fps are fewer than one 16-frame Synchformer "
            "segment; the reference cannot process this clip"
        )
    clip = siglip.encode(siglip_normalize(torch.from_numpy(siglip_frames.frames))).cpu()
    sync = sync_features(
        synchformer,
        torch.from_numpy(sync_frames.frames),
        autocast_dtype=sync_autocast,
        output_device="cpu",
    )[0]
    return ReferenceFeatures(clip=clip, sync=sync, lengths=lengths)


def clip_grid_count(duration_s: float) -> int:
    """SigLIP2 grid points for `duration_s` seconds: ceil(duration * 8), at least one."""
    return max(1, math.ceil(duration_s * MODEL_CLIP_FPS - 1e-6))


def _release_cache(module: torch.nn.Module) -> None:
    parameter = next(module.parameters(), None)
    if parameter is not None and parameter.device.type == "cuda":
        torch.cuda.empty_cache()

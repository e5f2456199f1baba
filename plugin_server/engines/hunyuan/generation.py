"""One clip through the whole model: text and picture features, windows, sampling, decoding.

Stages (each timed in the report): `text` (CLAP), `frames` (decode + SigLIP2 + Synchformer),
`sampling` (the transformer under the Euler/CFG sampler, window batch by window batch),
`decode` (DAC-VAE, per continuous run of windows, then the join). The audio is exactly
`request.num_samples` long; with reference sampling the reference's 960*T samples are
generated and then padded with silence (or cut) to that length.
"""

from __future__ import annotations

import contextlib
import logging
import math
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from plugin_server.engines.base import (
    Cancelled,
    CancelToken,
    ClipAudio,
    ClipRequest,
    EngineError,
    EngineReport,
    ProgressCallback,
)
from plugin_server.engines.hunyuan.denoiser import Conditions, GuidedTransformer
from plugin_server.engines.hunyuan.features import (
    ClipFeatures,
    FrameEncoder,
    ReferenceFeatures,
    clip_grid_count,
    encode_reference_video,
)
from plugin_server.engines.hunyuan.frame_sampling import (
    REFERENCE_CAP_S,
    FrameSamplingError,
    sync_segment_count,
)
from plugin_server.engines.hunyuan.models import ModelSet
from plugin_server.engines.hunyuan.options import EngineOptions
from plugin_server.engines.hunyuan.sampler import (
    EulerSampler,
    FlowSchedule,
    KnownLatent,
    initial_noise,
)
from plugin_server.engines.hunyuan.streaming import StreamStats
from plugin_server.engines.hunyuan.text_image_encoders import TextFeatures
from plugin_server.engines.hunyuan.windowing import (
    MODEL_WINDOW_LIMIT_S,
    Window,
    WindowPlan,
    plan_windows,
    window_limit_frames,
)
from plugin_server.media.windows import AudioWindow, join_windows

log = logging.getLogger(__name__)

# Share of the progress bar per stage, in order.
_PROGRESS = {"text": (0.0, 2.0), "frames": (2.0, 15.0), "sampling": (15.0, 92.0)}
_PROGRESS["decode"] = (92.0, 100.0)


@dataclass
class StageClock:
    """Seconds per stage, and progress reports scaled into each stage's share."""

    progress: ProgressCallback | None
    seconds: dict[str, float] = field(default_factory=dict)
    # Called with the stage's name before it starts; the memory ceiling's check (planning).
    before_stage: Callable[[str], None] | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.before_stage is not None:
            self.before_stage(name)
        self.report(name, 0.0)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        self.report(name, 1.0)

    def report(self, name: str, fraction: float) -> None:
        if self.progress is not None:
            low, high = _PROGRESS[name]
            self.progress(name, low + (high - low) * min(max(fraction, 0.0), 1.0))


@dataclass(frozen=True)
class Picture:
    """What the transformer sees of the clip, whichever way it was obtained."""

    features: ClipFeatures | None = None
    reference: ReferenceFeatures | None = None


def generate_clip(
    models: ModelSet,
    request: ClipRequest,
    options: EngineOptions,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    before_stage: Callable[[str], None] | None = None,
) -> ClipAudio:
    """Generate `request`'s audio with `models`; see the module docstring."""
    settings = request.settings
    device = models.device
    clock = StageClock(progress, before_stage=before_stage)
    notes: list[str] = list(models.precision.notes)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    hop = models.vae.hop_length
    latent_rate = models.config.transformer.audio_frame_rate

    _check_cancel(cancel, "before text encoding")
    negative = request.negative_prompt or settings.negative_prompt
    with clock.stage("text"), models.on_device(models.clap):
        text = models.clap.encode(request.prompt, negative)

    _check_cancel(cancel, "before frame encoding")
    with clock.stage("frames"), models.on_device(models.siglip, models.synchformer):
        picture = _picture(models, request, options, cancel)
    if picture.features is not None:
        notes.extend(picture.features.notes)
        notes.extend(getattr(request.frames, "warnings", ()))
    if picture.features is None and picture.reference is None:
        notes.append("no frames for this clip: generated from the prompt alone")

    plan, num_samples, plan_notes = _plan(models, picture, request, options)
    notes.extend(plan_notes)
    noise, noise_source = _initial_noise(options.initial_noise, request, plan.total_frames, models)
    with clock.stage("sampling"), models.on_device(models.transformer):
        latents = _sample_windows(models, picture, text, plan, noise, request, clock, cancel)

    _check_cancel(cancel, "before decoding")
    with clock.stage("decode"), models.on_device(models.vae):
        audio = _decode(models, plan, latents, settings.vae_chunk_seconds, latent_rate, hop)
    samples = np.clip(audio[:num_samples], -1.0, 1.0).astype(np.float32)
    if picture.reference is not None:
        samples, fit_note = fit_to_clip(samples, request.num_samples)
        notes.append(fit_note)

    notes.extend(_setting_notes(request, plan, latent_rate, models))
    report = EngineReport(
        engine="hunyuan",
        model=f"HunyuanVideo-Foley {models.layout.model_size.upper()} ({models.layout.root})",
        parameters=_parameters(models, request, options, plan, latent_rate, noise_source),
        peak_memory_bytes=_peak_memory(device),
        stage_seconds=dict(clock.seconds),
        notes=tuple(notes),
    )
    return ClipAudio(samples=samples, sample_rate=request.sample_rate, report=report)


def fit_to_clip(samples: np.ndarray, clip_samples: int) -> tuple[np.ndarray, str]:
    """The official-length audio of reference sampling, fitted to the clip's exact length.

    The official pipeline's length (960 * int(n25 / 25 * 50) samples, at most 15 s) is not the
    clip's: a 3 s clip at 25 fps gives 74 latent frames, 142,080 samples, for 144,000. The
    official samples are kept unchanged at the start; the rest is silence (or cut off), so the
    engine keeps its contract of exactly round(duration * 48000) samples.
    """
    official = samples.shape[0]
    if official >= clip_samples:
        fitted = samples[:clip_samples]
        change = f"cut by {official - clip_samples}"
    else:
        fitted = np.pad(samples, (0, clip_samples - official))
        change = f"padded with {clip_samples - official} samples of silence"
    note = (
        f"reference sampling: the official {official} samples fitted to the clip's "
        f"{clip_samples} ({change})"
    )
    return fitted.astype(np.float32, copy=False), note


def _plan(
    models: ModelSet, picture: Picture, request: ClipRequest, options: EngineOptions
) -> tuple[WindowPlan, int, list[str]]:
    """The clip's windows, its output length in samples, and notes about them."""
    if picture.reference is not None:
        lengths = picture.reference.lengths
        note = (
            f"reference sampling: {lengths.n25} frames at 25 fps -> {lengths.latent_frames} "
            f"latent frames, {lengths.audio_samples} samples (the official length, capped at "
            f"{REFERENCE_CAP_S:g} s, not the clip's {request.duration_s:.3f} s); frames at the "
            "reference's 8 and 25 fps, one window: frame_sampling_rate, max_audio_duration "
            "and batch_size do not apply"
        )
        plan = plan_windows(lengths.latent_frames, lengths.latent_frames, 0)
        return plan, lengths.audio_samples, [note]
    num_samples = request.num_samples
    if num_samples < 1:
        raise EngineError(f"clip {request.clip_id}: duration {request.duration_s}s is empty")
    latent_rate = models.config.transformer.audio_frame_rate
    plan = plan_windows(
        math.ceil(num_samples / models.vae.hop_length),
        window_limit_frames(request.settings, latent_rate),
        round(options.window_overlap_s * latent_rate),
        request.settings.batch_size,
    )
    return plan, num_samples, []


def _sample_windows(
    models: ModelSet,
    picture: Picture,
    text: TextFeatures,
    plan: WindowPlan,
    noise: torch.Tensor,
    request: ClipRequest,
    clock: StageClock,
    cancel: CancelToken | None,
) -> dict[int, torch.Tensor]:
    """Sample every window, batch by batch; returns each window's final latent [1, C, frames]
    on the host. The first window of a batch continues its predecessor (see windowing.py)."""
    settings = request.settings
    latent_rate = models.config.transformer.audio_frame_rate
    sampler = EulerSampler(
        FlowSchedule(settings.diffusion_timesteps, models.config.diffusion.sample_flow_shift),
        settings.guidance_scale,
    )
    models.transformer.attention_mode = settings.attention
    if models.streamer is not None:
        models.streamer.stats = StreamStats()  # this clip's copies only
    compiled = settings.torch_compile and models.compiled is not None and not models.streamer
    model = models.compiled if compiled else models.transformer
    timer = CompileTimer(models) if compiled and models.compile_pending else None
    latents: dict[int, torch.Tensor] = {}
    steps_total = len(plan.batches) * settings.diffusion_timesteps
    for number, batch in enumerate(plan.batches):
        _check_cancel(cancel, f"before window batch {number + 1}/{len(plan.batches)}")
        windows = [plan.windows[i] for i in batch]
        conditions = _conditions(models, picture, text, windows, request, latent_rate)
        velocity: Any = GuidedTransformer(
            model,  # type: ignore[arg-type]  # a compiled HunyuanVideoFoley behaves as one
            conditions,
            settings.cfg_mode,
            models.precision.autocast,
        )
        if timer is not None:
            velocity = timer.wrap(velocity)
        window_noise = torch.cat([noise[..., w.start : w.end] for w in windows])
        window_noise = window_noise.to(models.device)
        done_before = number * settings.diffusion_timesteps

        def on_step(done: int, _total: int, done_before: int = done_before) -> None:
            clock.report("sampling", (done_before + done) / steps_total)

        with sdpa_backend(settings.sdpa_backend, models.device):
            result = sampler.sample(
                velocity,
                window_noise,
                known=_known_prefix(windows, latents, window_noise),
                cancel=cancel,
                on_step=on_step,
            )
        for row, window in enumerate(windows):
            latents[window.index] = result[row : row + 1].cpu()
    return latents


@dataclass
class CompileTimer:
    """Times the first two transformer calls after torch.compile: the first pays for the
    compilation, the second runs compiled, so their difference is the compile time (kept on
    the ModelSet: later clips reuse the compiled model and report none)."""

    models: ModelSet
    calls: list[float] = field(default_factory=list)

    def wrap(self, velocity: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if len(self.calls) >= 2:
                return velocity(*args, **kwargs)
            started = time.perf_counter()
            out = velocity(*args, **kwargs)
            if self.models.device.type == "cuda":
                torch.cuda.synchronize(self.models.device)  # twice per worker, not per step
            self.calls.append(time.perf_counter() - started)
            if len(self.calls) == 2:
                self.models.compile_seconds = max(0.0, self.calls[0] - self.calls[1])
                self.models.compile_pending = False
            return out

        return timed


_SDPA_BACKENDS = {
    "flash": "FLASH_ATTENTION",
    "efficient": "EFFICIENT_ATTENTION",
    "cudnn": "CUDNN_ATTENTION",
    "math": "MATH",
}


def sdpa_backend(name: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The fused attention kernel `name` for SDPA calls inside (auto: PyTorch's choice). The
    CPU has only the math and flash kernels; other names run PyTorch's choice there."""
    if name == "auto" or (device.type == "cpu" and name not in ("math", "flash")):
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(getattr(SDPBackend, _SDPA_BACKENDS[name]))


def _picture(
    models: ModelSet, request: ClipRequest, options: EngineOptions, cancel: CancelToken | None
) -> Picture:
    settings = request.settings
    sync_autocast = (
        torch.float16 if settings.use_half_precision and models.device.type == "cuda" else None
    )
    if options.reference_sampling:
        path = _reference_path(request)
        try:
            reference = encode_reference_video(
                path, models.siglip, models.synchformer, sync_autocast=sync_autocast
            )
        except (FrameSamplingError, ValueError) as error:
            raise EngineError(f"clip {request.clip_id}: {error}") from error
        return Picture(reference=reference)
    if request.frames is None:
        return Picture()
    encoder = FrameEncoder(
        models.siglip,
        models.synchformer,
        siglip_fps=settings.frame_sampling_rate,
        chunk_frames=settings.cache_clear_interval,
        sync_autocast=sync_autocast,
        cancel=cancel,
    )
    try:
        return Picture(features=encoder.encode(request.frames))
    except ValueError as error:
        raise EngineError(f"clip {request.clip_id}: {error}") from error


def _reference_path(request: ClipRequest) -> Path:
    """The whole video file behind the clip: the official pipeline reads a file from its start."""
    span = getattr(request.frames, "span", None)
    if span is None:
        raise EngineError(
            f"clip {request.clip_id}: reference sampling decodes the media file itself, but this "
            "clip's frames do not come from a file"
        )
    if span.time_scalar != 1 or span.start_s > 1e-6:
        raise EngineError(
            f"clip {request.clip_id}: reference sampling reproduces the official pipeline on a "
            f"whole file played forward from 0 s; this clip starts at {span.start_s:.3f} s at "
            f"speed {span.time_scalar:g}. Turn reference sampling off for edited clips."
        )
    return Path(span.path)


def _conditions(
    models: ModelSet,
    picture: Picture,
    text: TextFeatures,
    windows: list[Window],
    request: ClipRequest,
    latent_rate: int,
) -> Conditions:
    """Features of a batch of equally long windows, float32 on the device."""
    clips, syncs = [], []
    for window in windows:
        clip, sync = _window_picture(models, picture, window, request, latent_rate)
        clips.append(clip)
        syncs.append(sync)
    batch = len(windows)
    device = models.device
    return Conditions(
        clip=torch.stack(clips).to(device),
        sync=torch.stack(syncs).to(device),
        text=text.cond.expand(batch, -1, -1).to(device),
        negative_text=text.uncond.expand(batch, -1, -1).to(device),
    )


def _window_picture(
    models: ModelSet, picture: Picture, window: Window, request: ClipRequest, latent_rate: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """SigLIP2 [N8, D] and Synchformer [8*S, Ds] features of one window."""
    if picture.reference is not None:
        return picture.reference.clip, picture.reference.sync
    start_s = window.start / latent_rate
    duration_s = min(window.frames / latent_rate, request.duration_s - start_s)
    first_frame = window.start // 2  # 50 latent frames/s -> 25 video frames/s
    if picture.features is not None:
        features = picture.features
        frames_25 = min(window.frames // 2, features.sync_frames - first_frame)
        return (
            features.clip_grid(start_s, clip_grid_count(duration_s)),
            features.sync_window(first_frame, frames_25),
        )
    clip, sync = models.transformer.empty_visual_features(
        1, clip_grid_count(duration_s), 8 * max(1, sync_segment_count(window.frames // 2))
    )
    return clip[0].detach().float().cpu(), sync[0].detach().float().cpu()


def _known_prefix(
    windows: list[Window], latents: dict[int, torch.Tensor], noise: torch.Tensor
) -> KnownLatent | None:
    """Inpainting context for the first window of a batch: the previous window's overlap."""
    first = windows[0]
    if not first.context:
        return None
    previous = latents[first.index - 1]
    values = torch.zeros_like(noise)
    mask = torch.zeros(len(windows), 1, first.frames, dtype=torch.bool, device=noise.device)
    values[0, :, : first.context] = previous[0, :, -first.context :].to(noise.device)
    mask[0, :, : first.context] = True
    return KnownLatent(values=values, mask=mask)


def _decode(
    models: ModelSet,
    plan: WindowPlan,
    latents: dict[int, torch.Tensor],
    chunk_seconds: float | None,
    latent_rate: int,
    hop: int,
) -> np.ndarray:
    """Decode each continuous run of windows and join the runs with equal-power crossfades."""
    chunk_frames = None if chunk_seconds is None else max(1, round(chunk_seconds * latent_rate))
    pieces: list[np.ndarray] = []
    spans: list[AudioWindow] = []
    for number, run in enumerate(plan.runs):
        windows = [plan.windows[i] for i in run]
        parts = [latents[windows[0].index]]
        parts += [latents[w.index][..., w.context :] for w in windows[1:]]
        latent = torch.cat(parts, dim=-1).to(models.device)
        with torch.inference_mode():
            audio = models.vae.decode(latent, chunk_frames=chunk_frames)
        pieces.append(audio[0, 0].float().cpu().numpy())
        spans.append(
            AudioWindow(number, windows[0].start * hop, len(pieces[-1]), models.vae.sample_rate)
        )
    if len(pieces) == 1:
        return pieces[0]
    return join_windows(pieces, spans, fade_samples=plan.overlap * hop)


def _initial_noise(
    path: Path | None, request: ClipRequest, total_frames: int, models: ModelSet
) -> tuple[torch.Tensor, str]:
    channels = models.config.transformer.audio_vae_latent_dim
    shape = (1, channels, total_frames)
    if path is None:
        return initial_noise(request.seed, shape), f"seed {request.seed}"
    try:
        noise = load_file(str(path)).get("noise")
    except (SafetensorError, OSError) as error:
        raise EngineError(f"initial noise {path} cannot be read as safetensors: {error}") from error
    if noise is None:
        raise EngineError(f"initial noise {path} has no tensor named 'noise'")
    if tuple(noise.shape) != shape:
        raise EngineError(
            f"initial noise {path} is {list(noise.shape)}; clip {request.clip_id} needs "
            f"{list(shape)} ({total_frames} latent frames)"
        )
    return noise.float(), str(path)


def _setting_notes(
    request: ClipRequest, plan: WindowPlan, latent_rate: int, models: ModelSet
) -> list[str]:
    settings = request.settings
    notes = []
    if settings.stagewise_offload and not models.offload:
        notes.append(
            f"stagewise_offload: on {models.device.type} every network already lives in host "
            "memory; nothing to offload"
        )
    if settings.encoder_offload and models.device.type == "cpu":
        notes.append(
            "encoder_offload: on cpu host and device are one memory; the offload path runs but "
            "nothing moves"
        )
    if settings.torch_compile and settings.stream_blocks is not None:
        notes.append("torch_compile: not applied with stream_blocks (a resident transformer only)")
    if settings.sdpa_backend not in ("auto", "math", "flash") and models.device.type == "cpu":
        notes.append(f"sdpa_backend {settings.sdpa_backend}: no such kernel on cpu; auto used")
    if models.compile_seconds is not None:
        notes.append(
            f"torch_compile: {models.compile_seconds:.2f} s of compilation (paid once per worker)"
        )
    if settings.enable_gradient_checkpointing:
        notes.append(
            "enable_gradient_checkpointing: no effect at inference (no backward pass, so no "
            "activations are kept to recompute); it only matters for fine-tuning"
        )
    if settings.batch_size > 1 and all(len(batch) == 1 for batch in plan.batches):
        notes.append(f"batch_size {settings.batch_size}: no two windows to batch in this clip")
    if plan.window_frames / latent_rate > MODEL_WINDOW_LIMIT_S + 1e-9:
        notes.append(
            f"windows of {plan.window_frames / latent_rate:.2f} s are longer than the "
            f"{MODEL_WINDOW_LIMIT_S:g} s the reference generates at once"
        )
    return notes


def _parameters(
    models: ModelSet,
    request: ClipRequest,
    options: EngineOptions,
    plan: WindowPlan,
    latent_rate: int,
    noise_source: str,
) -> dict[str, Any]:
    settings = request.settings
    return {
        "frame_sampling_rate": settings.frame_sampling_rate,
        "use_half_precision": settings.use_half_precision,
        "precision": models.precision.describe(),
        "max_audio_duration": settings.max_audio_duration,
        "window_s": plan.window_frames / latent_rate,
        "windows": len(plan.windows),
        "window_overlap_s": plan.overlap / latent_rate,
        "continuous_runs": len(plan.runs),
        "diffusion_timesteps": settings.diffusion_timesteps,
        "guidance_scale": settings.guidance_scale,
        "enable_gradient_checkpointing": settings.enable_gradient_checkpointing,
        "batch_size": settings.batch_size,
        "cache_clear_interval": settings.cache_clear_interval,
        "cfg_mode": settings.cfg_mode,
        "attention": settings.attention,
        "stagewise_offload": models.offload,
        "vae_chunk_seconds": settings.vae_chunk_seconds,
        "fp8_weights": models.precision.fp8,
        "encoder_offload": models.encoder_offload,
        "stream_blocks": None if models.streamer is None else models.streamer.resident,
        "streamed_bytes": 0 if models.streamer is None else models.streamer.stats.bytes_copied,
        "placement": models.placement,
        "torch_compile": settings.torch_compile
        and models.compiled is not None
        and models.streamer is None,
        "compile_seconds": models.compile_seconds,
        "sdpa_backend": settings.sdpa_backend,
        "negative_prompt": request.negative_prompt or settings.negative_prompt,
        "seed": request.seed,
        "initial_noise": noise_source,
        "latent_frames": plan.total_frames,
        "reference_sampling": options.reference_sampling,
        "device": str(models.device),
    }


def _peak_memory(device: torch.device) -> int:
    """Peak device memory on CUDA; on CPU the process's peak resident set size."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _check_cancel(cancel: CancelToken | None, where: str) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"cancelled {where}")

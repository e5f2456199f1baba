"""Make one clip's audio file: cache look-up, decode and generate, write atomically, cache."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_server.engines.base import (
    SAMPLE_RATE,
    Cancelled,
    CancelToken,
    ClipRequest,
    Engine,
    EngineError,
    EngineReport,
    ProgressCallback,
)
from plugin_server.media.audio_out import write_audio
from plugin_server.media.decode import MediaFileSource
from plugin_server.pipeline.cache import ResultCache
from plugin_server.pipeline.records import AudioFileFacts, ClipJob, ClipOutcome
from plugin_server.pipeline.request import AudioSpec


@dataclass(frozen=True)
class ClipDestination:
    """Where a clip's audio goes and how it is encoded."""

    directory: Path
    audio: AudioSpec


def run_clip(
    job: ClipJob,
    engine: Engine,
    destination: ClipDestination,
    cache: ResultCache | None,
    *,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> ClipOutcome:
    """Write `job`'s audio file under `destination.directory` and describe it.

    Raises Cancelled once `cancel` is set, EngineError (and subclasses) when generation fails,
    MediaError when the media cannot be decoded. No partial file is left behind on any error.
    """
    started = time.monotonic()
    if cancel.is_set():
        raise Cancelled(f"clip {job.clip_id!r} was cancelled before it started")
    cached = cache.load(job.cache_key) if cache is not None and job.cache_key else None
    if cached is not None:
        samples, report = cached.samples, cached.report
        progress("cache", 100.0)
    else:
        progress("decode", 0.0)
        request = ClipRequest(
            clip_id=job.clip_id,
            frames=MediaFileSource(job.span),
            duration_s=job.span.record_duration_s,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            seed=job.seed,
            settings=job.settings,
        )
        audio = engine.generate(request, progress=progress, cancel=cancel)
        samples = _checked_samples(audio.samples, audio.sample_rate, request, audio.report)
        report = audio.report
        if cache is not None and job.cache_key:
            cache.store(job.cache_key, samples, SAMPLE_RATE, report)
    if cancel.is_set():
        raise Cancelled(f"clip {job.clip_id!r} was cancelled before its file was written")
    progress("write", 100.0)
    facts = write_clip_audio(_padded(samples, job), job, destination)
    return ClipOutcome(
        clip_id=job.clip_id,
        path=destination.directory / job.file_name,
        file_name=job.file_name,
        from_cache=cached is not None,
        report=report,
        audio=facts,
        prompt=job.prompt,
        seed=job.seed,
        elapsed_s=time.monotonic() - started,
    )


def write_clip_audio(
    samples: np.ndarray, job: ClipJob, destination: ClipDestination
) -> AudioFileFacts:
    """Encode `samples` (float32 [n] mono, 48 kHz) as the job's file (write_audio is atomic)."""
    spec = destination.audio
    description = f"{job.name}: {job.prompt}" if job.prompt else job.name
    written = write_audio(
        destination.directory / job.file_name,
        samples,
        SAMPLE_RATE,
        time_reference_samples=job.time_reference_samples,
        container=spec.container,
        sample_format=spec.sample_format,
        channels=spec.channels,  # type: ignore[arg-type]
        loudness_target_lufs=spec.loudness_target_lufs,
        description=description[:256],
        originator_reference=job.clip_id[:32],
    )
    data = written.path.read_bytes()
    return AudioFileFacts(
        num_samples=written.num_samples,
        sample_rate=written.sample_rate,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        loudness_lufs=written.loudness_lufs,
        true_peak_dbtp=written.true_peak_dbtp,
    )


def _checked_samples(
    samples: np.ndarray, sample_rate: int, request: ClipRequest, report: EngineReport
) -> np.ndarray:
    """Hold engines to their contract: float32 mono [round(duration * 48000)] in [-1, 1]."""
    if sample_rate != SAMPLE_RATE:
        raise EngineError(
            f"clip {request.clip_id!r}: engine {report.engine!r} returned {sample_rate} Hz audio, "
            f"not {SAMPLE_RATE} Hz"
        )
    samples = np.asarray(samples)
    if samples.ndim != 1 or samples.shape[0] != request.num_samples:
        raise EngineError(
            f"clip {request.clip_id!r}: engine {report.engine!r} returned samples of shape "
            f"{samples.shape}, expected [{request.num_samples}]"
        )
    if not np.all(np.isfinite(samples)):
        raise EngineError(f"clip {request.clip_id!r}: engine {report.engine!r} returned NaN/inf")
    return np.clip(samples.astype(np.float32, copy=False), -1.0, 1.0)


def _padded(samples: np.ndarray, job: ClipJob) -> np.ndarray:
    """The engine's audio with the job's leading/trailing silence, exactly job.num_samples."""
    if job.pad_before_s == 0 and job.pad_after_s == 0:
        return samples
    before = np.zeros(round(job.pad_before_s * SAMPLE_RATE), dtype=np.float32)
    after = np.zeros(round(job.pad_after_s * SAMPLE_RATE), dtype=np.float32)
    padded = np.concatenate([before, samples, after])
    if padded.shape[0] >= job.num_samples:
        return padded[: job.num_samples]
    return np.pad(padded, (0, job.num_samples - padded.shape[0]))

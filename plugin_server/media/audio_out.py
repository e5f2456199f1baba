"""`write_audio`: the one place audio files are written (Broadcast WAV, or FLAC).

A Broadcast WAV carries a `bext` chunk whose TimeReference is the clip's record start in samples
since midnight, so an NLE can place the file by timecode (see bwf.py for the byte layout).
FLAC files carry the same value as a TIME_REFERENCE Vorbis comment. Dual-mono stereo writes the
mono signal on both channels. Loudness is measured (BS.1770-4) on the file as written, and with
`loudness_target_lufs` the clip is normalised to it under a -1 dBTP true-peak ceiling.

Writes are atomic: the file is written to a hidden temporary file in the destination folder,
flushed to disk, then renamed over the destination. A failure removes the temporary file and
leaves any previous file under the final name untouched.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

import av
import numpy as np

from plugin_server.media import bwf
from plugin_server.media.bwf import BextFields, SampleFormat
from plugin_server.media.errors import AudioWriteError
from plugin_server.media.loudness import (
    TRUE_PEAK_CEILING_DBTP,
    LoudnessReport,
    measure,
    normalisation_gain_db,
)

log = logging.getLogger(__name__)

Container = Literal["wav", "flac"]

_PCM24_SCALE = 8_388_607  # 2**23 - 1: +1.0 and -1.0 map to symmetric codes
_BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class AudioFileReport:
    """What was written. `loudness_lufs` and `true_peak_dbtp` describe the file as written (after
    `gain_db`, the normalisation gain, 0 when normalisation is off); None where not measurable
    (shorter than 400 ms, or silent). `clipped_samples` counts mono samples beyond full scale
    that 24-bit PCM had to clip."""

    path: Path
    num_samples: int
    sample_rate: int
    channels: int
    container: Container
    sample_format: SampleFormat
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float
    time_reference_samples: int
    clipped_samples: int = 0
    peak_dbfs: float | None = None  # sample peak as written; None for digital silence

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate


def write_audio(
    path: Path | str,
    samples: np.ndarray,
    sample_rate: int = 48_000,
    *,
    time_reference_samples: int = 0,
    container: Container = "wav",
    sample_format: SampleFormat = "pcm24",
    channels: Literal[1, 2] = 1,
    loudness_target_lufs: float | None = None,
    description: str = "",
    originator: str = "foley-backend",
    originator_reference: str = "",
    origination: datetime | None = None,
) -> AudioFileReport:
    """Write mono `samples` (float [n], nominally in [-1, 1]) to `path` atomically.

    `time_reference_samples` is the first sample's position in samples since midnight at
    `sample_rate` (the clip's record start). `origination` (default: now, local time) fills
    bext's OriginationDate/Time. Creates missing parent folders. Raises AudioWriteError naming
    the file for bad samples or parameters (non-finite values, float32 FLAC, ...) or when the
    folder refuses the file; the destination is then untouched and no temporary file remains.
    """
    path = Path(path)
    mono = _validated_samples(path, samples)
    _validate_parameters(
        path,
        sample_rate,
        time_reference_samples,
        container,
        sample_format,
        channels,
        loudness_target_lufs,
    )
    mono, measured, gain_db = _normalised(mono, sample_rate, channels, loudness_target_lufs)
    clipped = int(np.count_nonzero(np.abs(mono) > 1.0)) if sample_format == "pcm24" else 0
    if clipped:
        log.warning("%s: %d samples beyond full scale were clipped to 24-bit PCM", path, clipped)

    if container == "wav":
        fields = BextFields(
            description=description,
            originator=originator,
            originator_reference=originator_reference,
            origination=origination or datetime.now(),
            time_reference_samples=time_reference_samples,
            loudness_lufs=measured.loudness_lufs,
            true_peak_dbtp=measured.true_peak_dbtp,
            coding_history=bwf.coding_history(sample_format, sample_rate, channels, originator),
        )
        header = _wav_header(path, mono, sample_rate, channels, sample_format, fields)
        _atomic_write(path, lambda file: _write_wav(file, header, mono, channels, sample_format))
    else:
        metadata = {
            "TIME_REFERENCE": str(time_reference_samples),
            "DESCRIPTION": description,
            "ORIGINATOR": originator,
            "ORIGINATOR_REFERENCE": originator_reference,
        }
        _atomic_write(
            path, lambda file: _write_flac(path, file, mono, sample_rate, channels, metadata)
        )
    return AudioFileReport(
        path=path,
        num_samples=int(mono.shape[0]),
        sample_rate=sample_rate,
        channels=channels,
        container=container,
        sample_format=sample_format,
        loudness_lufs=measured.loudness_lufs,
        true_peak_dbtp=measured.true_peak_dbtp,
        gain_db=gain_db,
        time_reference_samples=time_reference_samples,
        clipped_samples=clipped,
        peak_dbfs=_peak_dbfs(mono, sample_format),
    )


def _normalised(
    mono: np.ndarray, sample_rate: int, channels: int, target_lufs: float | None
) -> tuple[np.ndarray, LoudnessReport, float]:
    """(samples with the normalisation gain applied, their loudness as written, gain in dB)."""

    def measured_as_written(signal: np.ndarray) -> LoudnessReport:
        layout = signal if channels == 1 else np.stack([signal, signal], axis=1)
        return measure(layout, sample_rate)

    measured = measured_as_written(mono)
    if target_lufs is None:
        return mono, measured, 0.0
    gain_db = normalisation_gain_db(measured, target_lufs, TRUE_PEAK_CEILING_DBTP)
    if not gain_db:
        return mono, measured, 0.0
    mono = mono * 10 ** (gain_db / 20)
    return mono, measured_as_written(mono), gain_db


def _peak_dbfs(mono: np.ndarray, sample_format: SampleFormat) -> float | None:
    peak = float(np.max(np.abs(mono), initial=0.0))
    if sample_format == "pcm24":
        peak = min(peak, 1.0)
    return 20 * math.log10(peak) if peak > 0 else None


def _validated_samples(path: Path, samples: np.ndarray) -> np.ndarray:
    array = np.asarray(samples)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise AudioWriteError(
            f"{path}: samples must be mono, shaped [n]; got shape {array.shape}", path
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise AudioWriteError(
            f"{path}: samples must be float in [-1, 1]; got dtype {array.dtype}", path
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise AudioWriteError(
            f"{path}: {bad.size} samples are NaN or infinite (first at sample {bad[0]}); the "
            "engine produced invalid audio",
            path,
        )
    return array.astype(np.float64, copy=False)


def _validate_parameters(
    path: Path,
    sample_rate: int,
    time_reference_samples: int,
    container: str,
    sample_format: str,
    channels: int,
    loudness_target_lufs: float | None,
) -> None:
    problems = []
    if not isinstance(sample_rate, int) or not 8_000 <= sample_rate <= 384_000:
        problems.append(f"sample_rate={sample_rate!r} must be an integer in 8000..384000")
    if not isinstance(time_reference_samples, int) or not 0 <= time_reference_samples < 2**64:
        problems.append(
            f"time_reference_samples={time_reference_samples!r} must be a non-negative integer"
        )
    if container not in ("wav", "flac"):
        problems.append(f"container={container!r} must be 'wav' or 'flac'")
    if sample_format not in ("pcm24", "float32"):
        problems.append(f"sample_format={sample_format!r} must be 'pcm24' or 'float32'")
    elif container == "flac" and sample_format == "float32":
        problems.append("FLAC stores integers only: use sample_format='pcm24' or a WAV")
    if channels not in (1, 2):
        problems.append(f"channels={channels!r} must be 1 (mono) or 2 (dual-mono)")
    if loudness_target_lufs is not None and not (
        math.isfinite(loudness_target_lufs) and -70 <= loudness_target_lufs <= 0
    ):
        problems.append(f"loudness_target_lufs={loudness_target_lufs!r} must be in -70..0 LUFS")
    if problems:
        raise AudioWriteError(f"{path}: " + "; ".join(problems), path)


def _atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
        )
    except OSError as error:
        raise AudioWriteError(
            f"{path}: cannot create a file in {path.parent}: {error}", path
        ) from error
    temporary = Path(temporary_name)
    try:
        with os.fdopen(descriptor, "w+b") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp creates the file readable by its owner only; NLEs may run as another user.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        if isinstance(error, OSError):
            raise AudioWriteError(f"{path}: writing failed: {error}", path) from error
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable; folders cannot be opened for syncing on every platform."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        log.debug("cannot fsync folder %s", folder)
    finally:
        os.close(descriptor)


def _write_wav(
    file: BinaryIO, header: bytes, mono: np.ndarray, channels: int, sample_format: SampleFormat
) -> None:
    file.write(header)
    for block in _encoded_blocks(mono, channels, sample_format):
        file.write(block)
    if mono.shape[0] * channels * bwf.bytes_per_sample(sample_format) % 2:
        file.write(b"\x00")  # RIFF chunks are word-aligned


def _wav_header(
    path: Path,
    mono: np.ndarray,
    sample_rate: int,
    channels: int,
    sample_format: SampleFormat,
    fields: BextFields,
) -> bytes:
    """Everything before the samples; AudioWriteError when the file would pass RIFF's 4 GiB."""
    frames = mono.shape[0]
    data_size = frames * channels * bwf.bytes_per_sample(sample_format)
    chunks = bwf.bext_chunk(fields) + bwf.fmt_chunks(sample_format, channels, sample_rate, frames)
    try:
        return bwf.riff_header(chunks, data_size)
    except OverflowError as error:
        raise AudioWriteError(f"{path}: {error}; write FLAC or shorter clips", path) from error


def _encoded_blocks(
    mono: np.ndarray, channels: int, sample_format: SampleFormat
) -> Iterator[bytes]:
    for start in range(0, mono.shape[0], _BLOCK_FRAMES):
        block = mono[start : start + _BLOCK_FRAMES]
        if channels == 2:
            block = np.repeat(block, 2)
        if sample_format == "float32":
            yield block.astype("<f4").tobytes()
        else:
            yield _pcm24_ints(block).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def _pcm24_ints(block: np.ndarray) -> np.ndarray:
    return np.clip(np.round(block * _PCM24_SCALE), -_PCM24_SCALE - 1, _PCM24_SCALE).astype(np.int32)


def _write_flac(
    path: Path,
    file: BinaryIO,
    mono: np.ndarray,
    sample_rate: int,
    channels: int,
    metadata: dict[str, str],
) -> None:
    layout = "mono" if channels == 1 else "stereo"
    try:
        with av.open(file, mode="w", format="flac") as output:
            for key, value in metadata.items():
                output.metadata[key] = value
            stream = output.add_stream("flac", rate=sample_rate, layout=layout)
            # 24-bit samples travel left-aligned in s32; the encoder keeps the top 24 bits.
            stream.codec_context.format = "s32"
            for start in range(0, mono.shape[0], _BLOCK_FRAMES):
                ints = _pcm24_ints(mono[start : start + _BLOCK_FRAMES]) << 8
                if channels == 2:
                    ints = np.repeat(ints, 2)
                frame = av.AudioFrame.from_ndarray(ints.reshape(1, -1), format="s32", layout=layout)
                frame.sample_rate = sample_rate
                for packet in stream.encode(frame):
                    output.mux(packet)
            for packet in stream.encode(None):
                output.mux(packet)
    except av.FFmpegError as error:
        raise AudioWriteError(f"{path}: FLAC encoding failed: {error}", path) from error

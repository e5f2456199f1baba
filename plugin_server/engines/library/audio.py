"""Reading library files: headers for the index, samples for placement, and attacks.

Everything is read with soundfile (libsndfile: WAV/BWF, RF64, FLAC, AIFF at any rate, depth
and channel count), mixed down to mono (the mean of the channels) and resampled to the
engine's rate with scipy's polyphase filter (exact for rational ratios such as 44.1 -> 48 kHz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

from plugin_server.engines.base import EngineError

AUDIO_SUFFIXES = frozenset({".wav", ".bwf", ".flac", ".aif", ".aiff", ".aifc"})
# A ratio needing a longer polyphase filter than this is approximated (a 47999 Hz file): the
# pitch error of limit_denominator(1000) is below 0.002 %, inaudible.
_MAX_RATIO_TERM = 1000
# Attack: the first sample whose level reaches this fraction of the file's peak.
_ATTACK_FRACTION = 0.1
_ATTACK_FLOOR = 1e-4


class LibraryAudioError(EngineError):
    """A library file cannot be read as audio; the message names it."""


@dataclass(frozen=True)
class AudioHeader:
    sample_rate: int
    channels: int
    frames: int
    format: str


def read_header(path: Path) -> AudioHeader:
    """The file's audio header; raises LibraryAudioError when libsndfile cannot open it."""
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError, ValueError) as error:  # LibsndfileError is a RuntimeError
        raise LibraryAudioError(f"{path}: not readable as audio ({error})") from error
    return AudioHeader(int(info.samplerate), int(info.channels), int(info.frames), info.format)


def read_mono(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    """float32 [n] mono at `sample_rate`: at most `max_seconds` from the file's start.

    Raises LibraryAudioError when the file cannot be decoded or holds no samples.
    """
    try:
        with soundfile.SoundFile(str(path)) as handle:
            source_rate = int(handle.samplerate)
            frames = min(handle.frames, math.ceil(max_seconds * source_rate))
            data = handle.read(frames, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError) as error:
        raise LibraryAudioError(f"{path}: cannot be decoded ({error})") from error
    if data.shape[0] == 0:
        raise LibraryAudioError(f"{path}: holds no samples")
    mono = data.mean(axis=1, dtype=np.float32)
    if not np.all(np.isfinite(mono)):
        raise LibraryAudioError(f"{path}: holds non-finite samples (a corrupt float file?)")
    return resample(mono, source_rate, sample_rate)


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """float32 `samples` from `source_rate` to `target_rate` (polyphase, Kaiser window)."""
    if source_rate == target_rate:
        return samples.astype(np.float32, copy=False)
    ratio = Fraction(target_rate, source_rate).limit_denominator(_MAX_RATIO_TERM)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def attack_index(samples: np.ndarray) -> int:
    """Where the sound in `samples` starts: the first sample reaching a tenth of the peak
    (0 for silence). A one-shot recorded with a lead-in of room noise starts there, not at 0."""
    magnitude = np.abs(samples)
    peak = float(magnitude.max(initial=0.0))
    if peak <= _ATTACK_FLOOR:
        return 0
    return int(np.argmax(magnitude >= max(_ATTACK_FRACTION * peak, _ATTACK_FLOOR)))

"""Placing library audio on the clip: one-shots on events, beds looped under everything.

Conventions: audio is float32 mono at the clip's rate; positions are samples from the clip's
start; gains in dB are converted once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from plugin_server.engines.library.audio import attack_index, resample
from plugin_server.engines.library.records import LibraryFile
from plugin_server.engines.library.vocabulary import BedConcept

# A one-shot at full event strength peaks here (the procedural engine's hits peak near -4 dBFS);
# the weakest event plays 6 dB lower.
_ONE_SHOT_PEAK_DB = -4.0
_WEAKEST_EVENT = 0.5
# Loop crossfade: at most this long, and at most a quarter of the bed.
_CROSSFADE_S = 0.5

Loader = Callable[[LibraryFile], np.ndarray | None]
"""A file's audio at the clip's rate (float32 [n]), or None when it cannot be read now."""


@dataclass(frozen=True)
class EventPlacement:
    """One one-shot on one event: the event time, the file, its gain variation (dB), its
    pitch shift (semitones) and where its own attack lies in it (seconds from its start)."""

    time_s: float
    file: LibraryFile
    gain_db: float
    pitch_semitones: float
    attack_s: float


@dataclass(frozen=True)
class BedPlacement:
    """A bed under the whole clip: from `offset_s` into the file, looped; `loop_points_s`
    are the clip times at the middle of each crossfade."""

    file: LibraryFile
    concept: BedConcept
    offset_s: float
    loop_points_s: tuple[float, ...]


def place_one_shots(
    out: np.ndarray,
    event_samples: np.ndarray,
    event_strengths: np.ndarray,
    pool: Sequence[LibraryFile],
    load: Loader,
    rng: np.random.Generator,
    pitch_rng: np.random.Generator,
    *,
    sample_rate: int,
    gain_variation_db: float,
    pitch_variation: float,
    check_cancel: Callable[[], None],
) -> list[EventPlacement]:
    """Add a one-shot from `pool` at each event of `out` (in place), its attack on the event.

    Never the same file twice in a row while the pool holds more than one file; a file that
    cannot be read leaves the pool. Files and gains are drawn from `rng`, pitch shifts (only
    when `pitch_variation` > 0) from `pitch_rng`, so enabling pitch variation does not change
    which files are chosen.
    """
    available = list(pool)
    placements: list[EventPlacement] = []
    previous: LibraryFile | None = None
    for position, strength in zip(event_samples.tolist(), event_strengths.tolist(), strict=True):
        check_cancel()
        sound = None
        while available and sound is None:
            choices = [f for f in available if f != previous] or available
            chosen = choices[int(rng.integers(len(choices)))]
            sound = load(chosen)
            if sound is None:
                available.remove(chosen)
        if sound is None:
            break
        gain_db = float(rng.uniform(-gain_variation_db, gain_variation_db))
        semitones = (
            float(pitch_rng.uniform(-pitch_variation, pitch_variation)) if pitch_variation else 0.0
        )
        if semitones:
            # Played faster is higher: read the samples as if recorded at rate * ratio.
            ratio = 2.0 ** (semitones / 12.0)
            sound = resample(sound, round(sample_rate * ratio), sample_rate)
        attack = attack_index(sound)
        peak = float(np.abs(sound).max(initial=0.0))
        level_db = (
            _ONE_SHOT_PEAK_DB
            + gain_db
            + 20 * math.log10(_WEAKEST_EVENT + (1 - _WEAKEST_EVENT) * float(strength))
        )
        gain = 10 ** (level_db / 20) / peak if peak > 0 else 0.0
        _add_at(out, sound, int(position) - attack, gain)
        placements.append(
            EventPlacement(
                time_s=int(position) / sample_rate,
                file=chosen,
                gain_db=round(gain_db, 3),
                pitch_semitones=round(semitones, 3),
                attack_s=attack / sample_rate,
            )
        )
        previous = chosen
    return placements


def place_bed(
    out: np.ndarray,
    samples: np.ndarray,
    bed: LibraryFile,
    concept: BedConcept,
    intensity: np.ndarray,
    rng: np.random.Generator,
    *,
    sample_rate: int,
) -> BedPlacement:
    """Add `samples` (the bed's audio) looped under all of `out` (in place), at the concept's
    level, its gain following `intensity` [len(out)] by the concept's motion depth."""
    crossfade = max(1, min(round(_CROSSFADE_S * sample_rate), len(samples) // 4))
    offset = int(rng.integers(max(1, len(samples) - crossfade)))
    looped, joins = loop_with_crossfades(samples, len(out), offset, crossfade)
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    gain = 10 ** (concept.level_db / 20) / rms if rms > 0 else 0.0
    shape = (1.0 - concept.motion_depth) + concept.motion_depth * intensity
    out += looped * (gain * shape).astype(np.float32)
    return BedPlacement(
        file=bed,
        concept=concept,
        offset_s=offset / sample_rate,
        loop_points_s=tuple(join / sample_rate for join in joins),
    )


def loop_with_crossfades(
    samples: np.ndarray, count: int, offset: int, crossfade: int
) -> tuple[np.ndarray, list[int]]:
    """`count` samples of `samples` [L] repeated end to end from `offset`, each repeat
    overlapping the previous by `crossfade` samples with equal-power (sine/cosine) fades:
    the fades' squares sum to one, so uncorrelated material keeps its level through a join.

    Returns the audio (float32 [count]) and the sample positions of the joins' middles.
    """
    length = len(samples)
    if not 0 < crossfade <= length // 2:
        raise ValueError(f"crossfade {crossfade} must be in 1..{length // 2} for {length} samples")
    period = length - crossfade
    repeats = max(1, math.ceil((offset + count) / period))
    stream = np.zeros(repeats * period + length, np.float32)
    phase = (np.arange(crossfade, dtype=np.float64) + 0.5) / crossfade * (math.pi / 2)
    fade_in = np.sin(phase).astype(np.float32)
    fade_out = np.cos(phase).astype(np.float32)
    body = samples.astype(np.float32, copy=True)
    body[-crossfade:] *= fade_out
    faded = body.copy()
    faded[:crossfade] *= fade_in
    joins = []
    for repeat in range(repeats):
        start = repeat * period
        stream[start : start + length] += body if repeat == 0 else faded
        join = start + crossfade // 2 - offset
        if repeat > 0 and 0 <= join < count:
            joins.append(join)
    return stream[offset : offset + count], joins


def _add_at(out: np.ndarray, sound: np.ndarray, start: int, gain: float) -> None:
    """out[start:start+len(sound)] += gain * sound, clipped to `out` at both ends."""
    first = max(0, -start)
    begin = max(0, start)
    end = min(len(out), start + len(sound))
    if end > begin:
        out[begin:end] += np.float32(gain) * sound[first : first + end - begin]

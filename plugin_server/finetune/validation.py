"""Every training pair opened and measured before any model is loaded.

Problems found here are gathered and raised together as one `DatasetError`, so a studio fixes
its data in one go instead of learning about the next file an hour into training:
unpaired and unreadable files, audio shorter than its picture, pairs too short to train on, a
dataset smaller than the batch. Audio at another sample rate is not a problem: it is resampled
to 48 kHz when its latents are extracted, and the files concerned are listed in the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from plugin_server.engines.base import SAMPLE_RATE
from plugin_server.finetune.audio_read import AudioInfo, audio_info
from plugin_server.finetune.errors import DatasetError
from plugin_server.finetune.pairs import Discovery, TrainingPair
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.errors import MediaError

MIN_PAIR_S = 0.64
"""Shortest pair trained on: one Synchformer segment (16 frames at 25 fps)."""

SHORT_AUDIO_TOLERANCE_S = 0.05
"""Audio this much shorter than its picture is accepted (container rounding, a last frame);
the pair is then trimmed to the audio."""


@dataclass(frozen=True)
class Dataset:
    """Validated pairs, and what the user should know about them."""

    pairs: tuple[TrainingPair, ...]
    notes: tuple[str, ...] = ()

    @property
    def total_s(self) -> float:
        return sum(pair.duration_s for pair in self.pairs)


def validate(discovery: Discovery, *, batch_size: int, skip_bad_pairs: bool = False) -> Dataset:
    """Check every pair of `discovery`; raises DatasetError listing every problem.

    With `skip_bad_pairs`, pairs with problems are left out (and listed in the notes) as long as
    enough good pairs remain for one batch.
    """
    problems = list(discovery.problems)
    notes = list(discovery.notes)
    good: list[TrainingPair] = []
    resampled: dict[int, list[str]] = {}
    longer_audio: list[str] = []
    seen: set[str] = set()
    for pair in discovery.pairs:
        if pair.pair_id in seen:
            continue
        seen.add(pair.pair_id)
        checked, problem = _check_pair(pair)
        if problem:
            problems.append(problem)
            continue
        assert checked is not None
        pair, info = checked
        if info.sample_rate != SAMPLE_RATE:
            resampled.setdefault(info.sample_rate, []).append(info.path.name)
        if pair.whole_files and info.duration_s > pair.duration_s + SHORT_AUDIO_TOLERANCE_S:
            longer_audio.append(info.path.name)
        good.append(pair)
    for rate, names in sorted(resampled.items()):
        notes.append(
            f"{len(names)} audio file(s) at {rate} Hz are resampled to {SAMPLE_RATE} Hz: "
            + _listing(names)
        )
    if longer_audio:
        notes.append(
            f"{len(longer_audio)} audio file(s) run past the end of their picture; only the part "
            "under the picture is used: " + _listing(longer_audio)
        )
    if problems and skip_bad_pairs:
        notes.append(
            f"{len(problems)} problem(s) skipped (--skip-bad-pairs): " + _listing(problems)
        )
        problems = []
    if not good and not problems:
        problems.append("no training pairs were found in DATA")
    elif len(good) < batch_size:
        problems.append(
            f"the dataset has {len(good)} usable pair(s), fewer than --batch-size {batch_size}: "
            "lower the batch size or add pairs"
        )
    if problems:
        raise DatasetError(
            problems,
            f"the training data has {len(problems)} problem(s); nothing was trained "
            "(fix them, or pass --skip-bad-pairs to train on the good pairs only):",
        )
    return Dataset(tuple(good), tuple(notes))


def _check_pair(pair: TrainingPair) -> tuple[tuple[TrainingPair, AudioInfo] | None, str]:
    """The pair (trimmed to its audio within the tolerance) and its audio's facts, or a problem."""
    try:
        MediaFileSource(pair.picture)
    except MediaError as error:
        return None, f"unreadable picture for {pair.origin}: {error}"
    try:
        info = audio_info(pair.audio.path)
    except MediaError as error:
        return None, f"unreadable audio for {pair.origin}: {error}"
    available = info.duration_s - pair.audio.start_s
    if available < pair.audio.duration_s - SHORT_AUDIO_TOLERANCE_S:
        return None, (
            f"audio shorter than its picture: {pair.origin}: {info.path.name} has "
            f"{max(0.0, available):.2f} s of audio for {pair.duration_s:.2f} s of picture"
        )
    if available < pair.audio.duration_s:
        pair = _trimmed(pair, available)
    if pair.duration_s < MIN_PAIR_S:
        return None, (
            f"too short: {pair.origin} lasts {pair.duration_s:.2f} s; pairs need at least "
            f"{MIN_PAIR_S} s (one Synchformer segment)"
        )
    return (pair, info), ""


def _trimmed(pair: TrainingPair, duration_s: float) -> TrainingPair:
    speed = abs(pair.picture.time_scalar)
    picture = replace(pair.picture, duration_s=duration_s * speed, record_duration_s=duration_s)
    if pair.picture.time_scalar < 0:
        # A reversed picture ends on its media start; trimming its record end moves that start.
        cut = (pair.picture.record_duration_s - duration_s) * speed
        picture = replace(picture, start_s=pair.picture.start_s + cut)
    return replace(pair, picture=picture, audio=replace(pair.audio, duration_s=duration_s))


def _listing(names: list[str], limit: int = 8) -> str:
    shown = "; ".join(names[:limit])
    return shown + (f"; and {len(names) - limit} more" if len(names) > limit else "")

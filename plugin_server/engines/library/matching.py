"""Prompt words to library files: a pool of one-shots for the events, and beds.

Words naming a bed (vocabulary.BED_CONCEPTS: rain, wind, traffic, room tone...) choose a bed
per concept; the other words choose the one-shots. Among one-shots, the files matching the
most prompt words form the pool (best BM25 first, at most `POOL_SIZE`; widened to files
missing one word when only one or two match three words or more); files matching any word of
the negative prompt are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from plugin_server.engines.library.index import LibraryIndex, Match
from plugin_server.engines.library.ranking import AudioTextRanker, rank_by_similarity
from plugin_server.engines.library.records import BED, ONE_SHOT, LibraryFile
from plugin_server.engines.library.vocabulary import (
    BED_CONCEPTS,
    BED_WORDS,
    BedConcept,
    prompt_words,
)

POOL_SIZE = 8
# Candidates re-ranked by a CLAP ranker: the FTS5 top this many.
_RANKED_CANDIDATES = 32
# A bed is drawn from this many of the best-matching beds, for variety between clips.
_BED_CHOICES = 3
# A pool of fewer files than this, all matching this many prompt words or more, is widened to
# the files matching one word less.
_WIDEN_BELOW = 3
_WIDEN_FROM_WORDS = 3


@dataclass(frozen=True)
class BedChoice:
    file: LibraryFile
    concept: BedConcept


@dataclass(frozen=True)
class Selection:
    """What the prompt asks of the library: `one_shots` (the pool, best first), `beds`, and
    which prompt words found files."""

    one_shots: tuple[LibraryFile, ...]
    beds: tuple[BedChoice, ...]
    matched_words: tuple[str, ...]
    unmatched_words: tuple[str, ...]
    ranking: str

    @property
    def empty(self) -> bool:
        return not self.one_shots and not self.beds


def select_sounds(
    index: LibraryIndex,
    prompt: str,
    negative_prompt: str,
    rng: np.random.Generator,
    *,
    ranker: AudioTextRanker | None = None,
    load: Callable[[LibraryFile], np.ndarray | None] | None = None,
    sample_rate: int = 48_000,
) -> Selection:
    """The files for `prompt` (see the module docstring); deterministic for the same index,
    prompt and `rng` state."""
    words = prompt_words(prompt)
    excluded = _excluded(index, prompt_words(negative_prompt))
    event_words = [w for w in words if w not in BED_WORDS]
    matched: set[str] = set()
    pool: list[LibraryFile] = []
    if event_words:
        matches = [m for m in index.search(event_words, ONE_SHOT) if m.file.file_id not in excluded]
        if matches:
            best = len(matches[0].words)
            top = [m for m in matches if len(m.words) == best]
            if best >= _WIDEN_FROM_WORDS and len(top) < _WIDEN_BELOW:
                # Few files name every word: those missing one word still fit well, and
                # more than one file keeps repeated events from sounding identical.
                top += [m for m in matches if len(m.words) == best - 1]
            for match in top:
                matched |= match.words
            candidates = [m.file for m in top]
            if ranker is not None and load is not None:
                candidates = rank_by_similarity(
                    ranker, index, prompt, candidates[:_RANKED_CANDIDATES], load, sample_rate
                )
            pool = candidates[:POOL_SIZE]
    beds: list[BedChoice] = []
    present = set(words)
    for concept in BED_CONCEPTS:
        if not concept.words & present:
            continue
        chosen = _choose_bed(index, words, concept, excluded, {b.file.file_id for b in beds}, rng)
        if chosen is not None:
            beds.append(BedChoice(chosen.file, concept))
            matched |= chosen.words
    return Selection(
        one_shots=tuple(pool),
        beds=tuple(beds),
        matched_words=tuple(w for w in words if w in matched),
        unmatched_words=tuple(w for w in words if w not in matched),
        ranking=ranker.model if ranker is not None and load is not None else "fts5",
    )


def _choose_bed(
    index: LibraryIndex,
    words: list[str],
    concept: BedConcept,
    excluded: set[int],
    taken: set[int],
    rng: np.random.Generator,
) -> Match | None:
    matches = [
        m
        for m in index.search(words, BED)
        if m.words & concept.words and m.file.file_id not in excluded | taken
    ]
    if not matches:
        return None
    best = len(matches[0].words)
    top = [m for m in matches if len(m.words) == best][:_BED_CHOICES]
    return top[int(rng.integers(len(top)))]


def _excluded(index: LibraryIndex, negative_words: list[str]) -> set[int]:
    excluded: set[int] = set()
    if negative_words:
        for kind in (ONE_SHOT, BED):
            excluded |= {m.file.file_id for m in index.search(negative_words, kind)}
    return excluded

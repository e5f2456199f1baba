"""Ranking library files by text-to-audio similarity (CLAP) instead of FTS5 alone.

An `AudioTextRanker` embeds prompts and sounds in one space: `clap.ClapRanker` (a two-tower
`transformers.ClapModel` from a local folder, engine option `library_clap`, `--library-clap
DIR`), or any object with the same three members given as `LibraryEngine(config, ranker=...)`.
The candidates FTS5 found are re-ordered by cosine similarity to the prompt, and each file's
audio embedding is cached in the index (table `audio_embeddings`, per file and ranker model;
the index drops a file's embeddings when the file changes or vanishes), so it is computed once
per file version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from plugin_server.engines.library.index import LibraryIndex
from plugin_server.engines.library.records import LibraryFile


class AudioTextRanker(Protocol):
    """Joint text/audio embeddings (CLAP-like). `model` names the weights: it keys the cache."""

    model: str

    def embed_text(self, text: str) -> np.ndarray:
        """float32 [D] embedding of a prompt."""
        ...

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 [D] embedding of mono float32 audio [n]."""
        ...


def rank_by_similarity(
    ranker: AudioTextRanker,
    index: LibraryIndex,
    prompt: str,
    candidates: Sequence[LibraryFile],
    load: Callable[[LibraryFile], np.ndarray | None],
    sample_rate: int,
) -> list[LibraryFile]:
    """`candidates` ordered by cosine similarity to `prompt`, best first (ties keep their
    FTS5 order). Candidates whose audio cannot be read are dropped."""
    text = _unit(ranker.embed_text(prompt))
    scored: list[tuple[float, int, LibraryFile]] = []
    for order, candidate in enumerate(candidates):
        cached = index.embedding(candidate.file_id, ranker.model)
        if cached is not None:
            vector = np.frombuffer(cached, dtype=np.float32)
        else:
            samples = load(candidate)
            if samples is None:
                continue
            vector = _unit(ranker.embed_audio(samples, sample_rate))
            index.store_embedding(candidate.file_id, ranker.model, vector.tobytes())
        scored.append((-float(np.dot(text, vector)), order, candidate))
    scored.sort(key=lambda item: item[:2])
    return [candidate for _, _, candidate in scored]


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector

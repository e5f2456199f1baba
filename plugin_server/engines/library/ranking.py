"""The hook for ranking library files by CLAP text-to-audio similarity instead of FTS5.

Not wired to a model yet: the port's CLAP (`plugin_server/engines/hunyuan/text_image_encoders`)
holds only CLAP's text tower, and HunyuanVideo-Foley never runs CLAP's audio tower, so no
audio embedding can be made from the weights the model needs. A ranker that has both towers
implements `AudioTextRanker` and is given to `LibraryEngine(config, ranker=...)`; candidates
found by FTS5 are then re-ordered by cosine similarity, and each file's audio embedding is
cached in the index (table `audio_embeddings`, per file and ranker model) so it is computed
once per file version.
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

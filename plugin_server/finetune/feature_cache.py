"""The on-disk cache of extracted features: one safetensors file per pair, one per prompt set.

A pair's key covers everything its features depend on: the content identity of its video and
audio files (`pipeline.identity`: size plus sampled blocks), the media ranges, the encoders'
files and the extraction settings. So a second run on the same data reads the cache instead of
running SigLIP2, Synchformer and the DAC-VAE encoder again, and a changed file or encoder is
extracted anew. Files are written under a temporary name and renamed; a file that cannot be
read is treated as missing (and rewritten).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from plugin_server.engines.hunyuan.checkpoint import save_safetensors
from plugin_server.engines.hunyuan.features import ClipFeatures
from plugin_server.pipeline.identity import MediaIdentity

log = logging.getLogger(__name__)

# Bump when what is stored, or how it is computed, changes.
CACHE_FORMAT = 1


@dataclass(frozen=True)
class PairFeatures:
    """Everything training needs of one pair, float32 on the host.

    `picture`: SigLIP2 frames [N, Dc] with their record times and Synchformer tokens [8*S, Ds];
    `latent`: the DAC-VAE encoder's mean over the pair's audio, [C, T] at 50 frames/s.
    """

    pair_id: str
    prompt: str
    picture: ClipFeatures
    latent: torch.Tensor


@dataclass(frozen=True)
class TextTable:
    """CLAP states of every prompt of the dataset, padded together: `states` [P, L, Dt]."""

    prompts: tuple[str, ...]
    states: torch.Tensor

    def of(self, prompt: str) -> torch.Tensor:
        """[L, Dt] states of `prompt` (one of `prompts`)."""
        return self.states[self.prompts.index(prompt)]


class FeatureCache:
    """Features by key under `directory`; safe for one writer (the finetune command)."""

    def __init__(self, directory: Path, identity: MediaIdentity | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._identity = identity or MediaIdentity()

    def file_identity(self, path: Path) -> str:
        return self._identity.digest(path)

    def folder_identity(self, folder: Path) -> str:
        """One digest over every file of a Hugging Face model folder."""
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{path.relative_to(folder)}={self.file_identity(path)};".encode())
        return digest.hexdigest()

    def load_pair(self, key: str, pair_id: str, prompt: str) -> PairFeatures | None:
        tensors, metadata = self._read(self.directory / f"pair-{key}.safetensors")
        if tensors is None:
            return None
        try:
            picture = ClipFeatures(
                siglip=tensors["siglip"],
                siglip_times=tensors["siglip_times"],
                sync=tensors["sync"],
                sync_frames=int(metadata["sync_frames"]),
                notes=tuple(json.loads(metadata.get("notes", "[]"))),
            )
            return PairFeatures(pair_id, prompt, picture, tensors["latent"])
        except (KeyError, ValueError) as error:
            log.warning("feature cache entry %s is incomplete (%s); extracting again", key, error)
            return None

    def store_pair(self, key: str, features: PairFeatures) -> None:
        picture = features.picture
        save_safetensors(
            {
                "siglip": picture.siglip.float(),
                "siglip_times": picture.siglip_times.double(),
                "sync": picture.sync.float(),
                "latent": features.latent.float(),
            },
            self.directory / f"pair-{key}.safetensors",
            metadata={
                "format": str(CACHE_FORMAT),
                "pair_id": features.pair_id,
                "sync_frames": str(picture.sync_frames),
                "notes": json.dumps(list(picture.notes)),
            },
        )

    def load_text(self, key: str) -> TextTable | None:
        tensors, metadata = self._read(self.directory / f"text-{key}.safetensors")
        if tensors is None or "states" not in tensors or "prompts" not in metadata:
            return None
        return TextTable(tuple(json.loads(metadata["prompts"])), tensors["states"])

    def store_text(self, key: str, table: TextTable) -> None:
        save_safetensors(
            {"states": table.states.float()},
            self.directory / f"text-{key}.safetensors",
            metadata={"format": str(CACHE_FORMAT), "prompts": json.dumps(list(table.prompts))},
        )

    def _read(self, path: Path) -> tuple[dict[str, torch.Tensor] | None, dict[str, str]]:
        if not path.is_file():
            return None, {}
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = dict(handle.metadata() or {})
                if metadata.get("format") != str(CACHE_FORMAT):
                    return None, {}
                return {key: handle.get_tensor(key) for key in handle.keys()}, metadata  # noqa: SIM118
        except (SafetensorError, OSError) as error:
            log.warning("feature cache file %s cannot be read (%s); extracting again", path, error)
            return None, {}


def cache_key(document: dict[str, object]) -> str:
    """Hex SHA-256 of a canonical JSON document."""
    text = json.dumps({"format": CACHE_FORMAT, **document}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]

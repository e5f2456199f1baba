"""Resumable training checkpoints: adapter weights, optimizer, step, random states, loss history.

A checkpoint is one `torch.save` file of tensors and plain containers, read back only with
`torch.load(weights_only=True)`. Resuming restores the exact state: the same adapter, the same
Adam moments, the data generator's state (window starts, sigma, noise, dropout) and torch's own
generators (LoRA dropout), so steps after a resume equal the steps an uninterrupted run takes.
A checkpoint remembers the settings and the pairs it was trained with; resuming with other ones
is refused, naming the difference.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from plugin_server.finetune.errors import CheckpointError

CHECKPOINT_FORMAT = 1
CHECKPOINT_DIR = "checkpoints"


@dataclass
class TrainingState:
    """Everything a run needs to continue. `settings` are the values that must not change on
    resume; `pair_ids` the data it was trained on; `losses` and `step_seconds` per step."""

    step: int
    lora: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scaler: dict[str, Any]
    generator: torch.Tensor
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor]
    settings: dict[str, Any]
    pair_ids: list[str]
    losses: list[float]
    step_seconds: list[float]


def checkpoint_path(out: Path, step: int) -> Path:
    return out / CHECKPOINT_DIR / f"step-{step:06d}.pt"


def save_checkpoint(path: Path, state: TrainingState) -> None:
    """Write `state` to `path`; the file appears only once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"format": CHECKPOINT_FORMAT, **state.__dict__}, partial)
    partial.replace(path)


def load_checkpoint(path: Path) -> TrainingState:
    """Read a checkpoint; raises CheckpointError naming the file when it is not one."""
    if not path.is_file():
        raise CheckpointError(f"--resume {path}: no such checkpoint file")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"--resume {path} cannot be read as a checkpoint: {error}") from error
    if not isinstance(document, Mapping) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"--resume {path} is not a training checkpoint of this version (expected format "
            f"{CHECKPOINT_FORMAT}; checkpoints are written under OUT/{CHECKPOINT_DIR}/)"
        )
    fields = set(TrainingState.__dataclass_fields__)
    missing = sorted(fields - set(document))
    if missing:
        raise CheckpointError(f"--resume {path} lacks {', '.join(missing)}")
    return TrainingState(**{key: document[key] for key in fields})


def check_resumable(
    state: TrainingState, settings: Mapping[str, Any], pair_ids: Sequence[str], path: Path
) -> None:
    """Refuse a resume whose settings or data differ from the checkpoint's."""
    changed = [
        f"{key} {settings[key]!r} (checkpoint: {state.settings.get(key)!r})"
        for key in settings
        if state.settings.get(key) != settings[key]
    ]
    if changed:
        raise CheckpointError(
            f"--resume {path} was trained with other settings: "
            + "; ".join(changed)
            + ". Resume with the checkpoint's settings, or start a new run."
        )
    if list(pair_ids) != list(state.pair_ids):
        added = len(set(pair_ids) - set(state.pair_ids))
        removed = len(set(state.pair_ids) - set(pair_ids))
        raise CheckpointError(
            f"--resume {path}: the training data changed since the checkpoint ({added} pair(s) "
            f"added, {removed} removed); resume with the same DATA, or start a new run"
        )

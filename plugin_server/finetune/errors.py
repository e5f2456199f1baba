"""The typed errors of fine-tuning. Every message names the file, clip or option and what to do."""

from __future__ import annotations

from collections.abc import Sequence


class FinetuneError(Exception):
    """Fine-tuning cannot start or go on; the message says why and what to do."""


class DatasetError(FinetuneError):
    """The training data has problems; all of them are listed, found before any training."""

    def __init__(self, problems: Sequence[str], summary: str = "") -> None:
        self.problems = tuple(problems)
        lines = [summary or f"the training data has {len(self.problems)} problem(s):"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


class TrainingDiverged(FinetuneError):
    """The loss became NaN or infinite."""


class CheckpointError(FinetuneError):
    """A training checkpoint cannot be read or does not fit this run."""

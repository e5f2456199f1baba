"""The training loop: LoRA on the transformer, AdamW, the flow-matching loss, checkpoints.

Precision: "fp32" trains in float32; "bf16" and "fp16" run the transformer under
`torch.autocast` of that dtype, with the frozen base weights stored in it on CUDA (half their
memory) and kept float32 on the CPU. The LoRA weights and Adam's moments are always float32;
"fp16" also scales the loss (`torch.amp.GradScaler`) so small gradients do not underflow.
Gradient checkpointing recomputes each transformer block in the backward pass instead of
keeping its activations (`HunyuanVideoFoley.gradient_checkpointing`).
"""

from __future__ import annotations

import logging
import math
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from peft.functional import cast_adapter_dtype

from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.finetune.checkpoints import (
    TrainingState,
    check_resumable,
    checkpoint_path,
    save_checkpoint,
)
from plugin_server.finetune.errors import TrainingDiverged
from plugin_server.finetune.lora import (
    TRAINING_ADAPTER,
    LoraSpec,
    add_lora,
    load_lora_state,
    lora_state,
)
from plugin_server.finetune.objective import flow_loss
from plugin_server.finetune.progress_bar import TrainingProgress
from plugin_server.finetune.windows import WindowSampler

log = logging.getLogger(__name__)

PrecisionName = Literal["fp32", "bf16", "fp16"]
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}

# fp16 steps skipped in a row (non-finite loss) before the run is called diverged.
_MAX_SKIPPED_STEPS = 20


@dataclass(frozen=True)
class TrainingSettings:
    """How to train. `window_s`: seconds per training window (shortened to the shortest pair);
    `condition_dropout`: share of windows trained with the empty picture and prompt, so that
    classifier-free guidance keeps working; `save_every`: steps between checkpoints (0: only
    the last)."""

    steps: int = 1000
    batch_size: int = 1
    learning_rate: float = 1e-4
    lora: LoraSpec = field(default_factory=LoraSpec)
    window_s: float = 8.0
    seed: int = 0
    condition_dropout: float = 0.1
    gradient_checkpointing: bool = False
    precision: PrecisionName = "fp32"
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    save_every: int = 0

    def fixed(self, window_frames: int) -> dict[str, Any]:
        """The settings a resumed run must share with its checkpoint (not steps, not
        checkpointing or saving: they change neither the maths nor the data)."""
        return {
            "rank": self.lora.rank,
            "alpha": self.lora.alpha,
            "lora_dropout": self.lora.dropout,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "window_frames": window_frames,
            "seed": self.seed,
            "condition_dropout": self.condition_dropout,
            "precision": self.precision,
            "max_grad_norm": self.max_grad_norm,
            "weight_decay": self.weight_decay,
        }


@dataclass(frozen=True)
class TrainingResult:
    """Per-step losses and seconds of the whole run (resumed steps included), the step reached,
    the peak memory (CUDA: allocated; CPU: the process's peak resident set), checkpoints."""

    step: int
    losses: tuple[float, ...]
    step_seconds: tuple[float, ...]
    peak_memory_bytes: int
    checkpoints: tuple[Path, ...]


def base_dtype(settings: TrainingSettings, device: torch.device) -> torch.dtype:
    """Storage dtype of the frozen transformer weights (see the module docstring)."""
    half = PRECISIONS[settings.precision]
    return half if half is not None and device.type == "cuda" else torch.float32


def prepare_model(
    model: HunyuanVideoFoley, settings: TrainingSettings, device: torch.device
) -> list[torch.nn.Parameter]:
    """Move the transformer to `device`, add the LoRA layers (float32) and set checkpointing;
    returns the trainable parameters."""
    model.to(device)
    add_lora(model, settings.lora.config())
    # peft gives new LoRA weights the base layer's dtype; Adam needs them in float32.
    cast_adapter_dtype(model, TRAINING_ADAPTER, autocast_adapter_dtype=True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.gradient_checkpointing = settings.gradient_checkpointing
    return trainable


class Trainer:
    """Trains the LoRA of a prepared model on batches from `sampler`."""

    def __init__(
        self,
        model: HunyuanVideoFoley,
        sampler: WindowSampler,
        settings: TrainingSettings,
        device: torch.device,
        pair_ids: list[str],
    ) -> None:
        self.model = model
        self.sampler = sampler
        self.settings = settings
        self.device = device
        self.pair_ids = pair_ids
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=settings.precision == "fp16")
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.step = 0
        self.losses: list[float] = []
        self.step_seconds: list[float] = []
        self._skipped = 0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        torch.manual_seed(settings.seed)  # LoRA dropout draws from torch's own generator

    @property
    def fixed_settings(self) -> dict[str, Any]:
        return self.settings.fixed(self.sampler.frames)

    def resume(self, state: TrainingState, source: Path) -> None:
        """Continue from `state`; raises CheckpointError when it does not fit this run."""
        check_resumable(state, self.fixed_settings, self.pair_ids, source)
        load_lora_state(self.model, state.lora, TRAINING_ADAPTER, str(source))
        self.optimizer.load_state_dict(state.optimizer)
        self.scaler.load_state_dict(state.scaler)
        self.generator.set_state(state.generator)
        torch.set_rng_state(state.torch_rng)
        if self.device.type == "cuda" and state.cuda_rng:
            torch.cuda.set_rng_state_all(state.cuda_rng)
        self.step = state.step
        self.losses = list(state.losses)
        self.step_seconds = list(state.step_seconds)
        log.info("resumed from %s at step %d", source, self.step)

    def state(self) -> TrainingState:
        return TrainingState(
            step=self.step,
            lora=lora_state(self.model),
            optimizer=self.optimizer.state_dict(),
            scaler=self.scaler.state_dict(),
            generator=self.generator.get_state(),
            torch_rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            settings=self.fixed_settings,
            pair_ids=list(self.pair_ids),
            losses=list(self.losses),
            step_seconds=list(self.step_seconds),
        )

    def train_step(self) -> float:
        """One optimizer step on the next batch; returns its loss."""
        self.model.train()
        batch = self.sampler.batch(self.step, self.generator)
        loss = flow_loss(
            self.model,
            batch,
            self.generator,
            device=self.device,
            autocast_dtype=PRECISIONS[self.settings.precision],
        )
        value = float(loss.detach())
        if not math.isfinite(value):
            self._skipped += 1
            if self.settings.precision != "fp16" or self._skipped >= _MAX_SKIPPED_STEPS:
                raise TrainingDiverged(
                    f"the loss became {value} at step {self.step + 1}; lower --lr (now "
                    f"{self.settings.learning_rate:g}) or train in --precision fp32/bf16, and "
                    "resume from the last checkpoint"
                )
        else:
            self._skipped = 0
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.parameters, self.settings.max_grad_norm)
        self.scaler.step(self.optimizer)  # skipped by the scaler when gradients are not finite
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return value

    def run(
        self,
        out: Path,
        *,
        progress: TrainingProgress | None = None,
        on_checkpoint: Callable[[Path], None] | None = None,
    ) -> TrainingResult:
        """Train up to `settings.steps`, checkpointing under `out`; on Ctrl-C the last finished
        step is checkpointed before KeyboardInterrupt goes on."""
        saved: list[Path] = []
        every = self.settings.save_every
        try:
            while self.step < self.settings.steps:
                started = time.perf_counter()
                loss = self.train_step()
                self.losses.append(loss)
                self.step_seconds.append(time.perf_counter() - started)
                if progress is not None:
                    progress.step(self.step, loss)
                if every and self.step % every == 0 and self.step < self.settings.steps:
                    saved.append(self._save(out, on_checkpoint))
        except KeyboardInterrupt:
            if self.step > 0:
                saved.append(self._save(out, on_checkpoint))
            raise
        saved.append(self._save(out, on_checkpoint))
        return TrainingResult(
            step=self.step,
            losses=tuple(self.losses),
            step_seconds=tuple(self.step_seconds),
            peak_memory_bytes=peak_memory_bytes(self.device),
            checkpoints=tuple(saved),
        )

    def _save(self, out: Path, on_checkpoint: Callable[[Path], None] | None) -> Path:
        path = checkpoint_path(out, self.step)
        save_checkpoint(path, self.state())
        if on_checkpoint is not None:
            on_checkpoint(path)
        return path


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA: peak allocated bytes since the trainer started; CPU: the process's peak RSS."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def settings_document(settings: TrainingSettings) -> dict[str, Any]:
    """The settings as plain JSON values (for foley_lora.json)."""
    return asdict(settings)

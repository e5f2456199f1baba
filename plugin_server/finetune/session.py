"""One fine-tuning run from DATA to an adapter folder, every check before the first step.

Order: the output folder and any checkpoint to resume are checked, the weights directory is
located, the data is discovered and validated (all problems at once), then models are loaded,
missing features extracted into the cache, and the LoRA trained. The adapter folder is written
at the end, with the loss curve and a per-step log beside it.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import torch

from plugin_server.engines.hunyuan.checkpoint import WeightsError
from plugin_server.engines.hunyuan.config import ModelConfig, ModelConfigError, load_model_config
from plugin_server.engines.hunyuan.engine import resolve_device
from plugin_server.engines.hunyuan.frame_sampling import LATENT_RATE_HZ
from plugin_server.engines.hunyuan.layout import WeightsLayout, locate_weights
from plugin_server.engines.hunyuan.loading import load_transformer
from plugin_server.engines.hunyuan.models import ModelSet, load_models
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.hunyuan.precision import Precision
from plugin_server.finetune.adapter_files import ADAPTER_WEIGHTS
from plugin_server.finetune.checkpoints import TrainingState, load_checkpoint
from plugin_server.finetune.discovery import discover
from plugin_server.finetune.errors import FinetuneError
from plugin_server.finetune.extraction import extract, plan_extraction
from plugin_server.finetune.feature_cache import FeatureCache, PairFeatures, TextTable
from plugin_server.finetune.lora import base_description, save_adapter
from plugin_server.finetune.loss_curve import write_loss_curve
from plugin_server.finetune.progress_bar import TrainingProgress
from plugin_server.finetune.trainer import (
    Trainer,
    TrainingResult,
    TrainingSettings,
    base_dtype,
    prepare_model,
    settings_document,
)
from plugin_server.finetune.validation import Dataset, validate
from plugin_server.finetune.windows import WindowSampler, window_frames
from timeline.records import MediaMap

log = logging.getLogger(__name__)

LOSS_CURVE = "loss_curve.png"
LOSS_LOG = "loss.csv"
FEATURE_CACHE_DIR = "feature_cache"


@dataclass(frozen=True)
class FinetuneJob:
    """What to train on, from which weights, into which folder, how."""

    data: tuple[Path, ...]
    weights_dir: Path
    out: Path
    settings: TrainingSettings = field(default_factory=TrainingSettings)
    device: str = "auto"
    model_size: str | None = None
    media_map: MediaMap = field(default_factory=MediaMap)
    audio_tracks: tuple[str, ...] = ()
    prompt: str = ""
    cache_dir: Path | None = None
    resume: Path | None = None
    skip_bad_pairs: bool = False


@dataclass(frozen=True)
class FinetuneResult:
    adapter: Path
    dataset: Dataset
    training: TrainingResult
    window_s: float
    elapsed_s: float
    notes: tuple[str, ...] = ()


Say = Callable[[str], None]


def prepare(job: FinetuneJob) -> tuple[WeightsLayout, Dataset, TrainingState | None]:
    """Every check that needs no model: output folder, checkpoint, weights layout, data.
    Raises FinetuneError (DatasetError, CheckpointError) or WeightsError."""
    if (job.out / ADAPTER_WEIGHTS).is_file() and job.resume is None:
        raise FinetuneError(
            f"--out {job.out} already holds an adapter; choose another folder, remove it, or "
            f"continue its run with --resume {job.out}/checkpoints/step-NNNNNN.pt"
        )
    if job.out.exists() and not job.out.is_dir():
        raise FinetuneError(f"--out {job.out} exists and is not a folder")
    resume = load_checkpoint(job.resume) if job.resume is not None else None
    if resume is not None and resume.step >= job.settings.steps:
        raise FinetuneError(
            f"--resume {job.resume} is at step {resume.step}; ask for more --steps than that"
        )
    layout = locate_weights(job.weights_dir, model_size=job.model_size)
    discovery = discover(
        job.data,
        media_map=job.media_map,
        audio_tracks=job.audio_tracks,
        default_prompt=job.prompt,
    )
    dataset = validate(
        discovery, batch_size=job.settings.batch_size, skip_bad_pairs=job.skip_bad_pairs
    )
    return layout, dataset, resume


def run_finetune(
    job: FinetuneJob, *, say: Say | None = None, progress_stream: TextIO | None = None
) -> FinetuneResult:
    """Train an adapter for `job` (see the module docstring); `say` gets one-line updates."""
    started = time.monotonic()
    tell = say or (lambda text: log.info("%s", text))
    layout, dataset, resume = prepare(job)
    tell(f"{len(dataset.pairs)} training pair(s), {dataset.total_s:.1f} s of picture with Foley")
    for note in dataset.notes:
        tell(f"note: {note}")
    device = resolve_device(job.device)
    settings = job.settings
    cache = FeatureCache(job.cache_dir or job.out / FEATURE_CACHE_DIR)
    transformer, features, text = _features_and_transformer(
        layout, dataset, cache, device, settings, tell
    )
    frames = window_frames(features, settings.window_s)
    window_s = frames / LATENT_RATE_HZ
    if window_s < settings.window_s - 1e-6:
        tell(f"note: training windows are {window_s:.2f} s (the shortest pair's length)")
    sampler = WindowSampler(
        features,
        text,
        frames=frames,
        batch_size=settings.batch_size,
        seed=settings.seed,
        condition_dropout=settings.condition_dropout,
    )
    prepare_model(transformer, settings, device)
    trainer = Trainer(transformer, sampler, settings, device, [f.pair_id for f in features])
    if resume is not None:
        assert job.resume is not None
        trainer.resume(resume, job.resume)
    tell(
        f"training LoRA rank {settings.lora.rank} on {device}: {settings.steps} steps of "
        f"{settings.batch_size} x {window_s:.2f} s windows, precision {settings.precision}, "
        f"gradient checkpointing {'on' if settings.gradient_checkpointing else 'off'}"
    )
    progress = TrainingProgress(
        settings.steps,
        trainer.step,
        windows_per_step=settings.batch_size,
        window_s=window_s,
        stream=progress_stream,
    )
    result = trainer.run(
        job.out, progress=progress, on_checkpoint=lambda path: log.info("checkpoint %s", path)
    )
    save_adapter(
        job.out,
        transformer,
        settings.lora.config(),
        base=base_description(_config(layout).transformer, layout.model_size),
        training={
            **settings_document(settings),
            "window_frames": frames,
            "pairs": len(features),
            "steps_done": result.step,
            "final_loss": result.losses[-1] if result.losses else None,
        },
    )
    write_loss_curve(
        job.out / LOSS_CURVE,
        result.losses,
        title=f"LoRA rank {settings.lora.rank}, {len(features)} pairs, "
        f"lr {settings.learning_rate:g}",
    )
    _write_loss_log(job.out / LOSS_LOG, result)
    return FinetuneResult(
        adapter=job.out,
        dataset=dataset,
        training=result,
        window_s=window_s,
        elapsed_s=time.monotonic() - started,
        notes=dataset.notes,
    )


def _features_and_transformer(
    layout: WeightsLayout,
    dataset: Dataset,
    cache: FeatureCache,
    device: torch.device,
    settings: TrainingSettings,
    tell: Say,
) -> tuple[HunyuanVideoFoley, list[PairFeatures], TextTable]:
    """Cached features (extracting what is missing) and the transformer to train."""
    plan = plan_extraction(dataset.pairs, layout, cache)
    dtype = base_dtype(settings, device)
    if not plan.needs_encoders:
        tell(f"features of all {len(plan.pairs)} pair(s) found in the cache {cache.directory}")
        transformer = load_transformer(
            layout.transformer, _config(layout).transformer, device="cpu", dtype=dtype
        )
        features, text = extract(plan, cache, None)
        return transformer, features, text
    tell(
        f"extracting features of {len(plan.missing)} pair(s) into {cache.directory} "
        f"({len(plan.pairs) - len(plan.missing)} cached)"
    )
    precision = Precision(weights=dtype, autocast=None, fp8=False)
    models: ModelSet = load_models(layout, precision, device, offload=True)

    def on_pair(done: int, total: int, pair: object) -> None:
        log.info("features %d/%d", done, total)

    features, text = extract(plan, cache, models, on_pair=on_pair)
    transformer = models.transformer
    del models  # the encoders are not needed any more
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return transformer, features, text


def _config(layout: WeightsLayout) -> ModelConfig:
    try:
        return load_model_config(layout.config)
    except ModelConfigError as error:
        raise WeightsError(str(error)) from error


def _write_loss_log(path: Path, result: TrainingResult) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["step", "loss", "seconds"])
        for step, (loss, seconds) in enumerate(
            zip(result.losses, result.step_seconds, strict=True), start=1
        ):
            writer.writerow([step, f"{loss:.6f}", f"{seconds:.4f}"])
    partial.replace(path)

"""Features of every pair, extracted once: SigLIP2 frames, Synchformer tokens, CLAP states of
the prompts, and DAC-VAE latents (the encoder's mean, as a deterministic target).

Pictures are encoded exactly as generation encodes them (`hunyuan.features.FrameEncoder`),
with SigLIP2 at the model's own 8 fps grid. Audio is read at 48 kHz mono (resampled when
needed, see audio_read.py). Prompts are encoded together in one padded CLAP batch, so every
prompt has the same number of tokens and any two pairs can share a batch.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from plugin_server.engines.hunyuan.features import MODEL_CLIP_FPS, FrameEncoder
from plugin_server.engines.hunyuan.layout import WeightsLayout
from plugin_server.engines.hunyuan.models import ModelSet
from plugin_server.engines.hunyuan.text_image_encoders import ClapTextEncoder
from plugin_server.finetune.audio_read import read_audio
from plugin_server.finetune.errors import FinetuneError
from plugin_server.finetune.feature_cache import FeatureCache, PairFeatures, TextTable, cache_key
from plugin_server.finetune.pairs import TrainingPair
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.errors import MediaError

log = logging.getLogger(__name__)

EMPTY_PROMPT = ""
"""The prompt of condition dropout: always encoded with the dataset's prompts."""

# SigLIP2 and Synchformer frames encoded per batch: bounds memory on long pairs.
_CHUNK_FRAMES = 64

PairDone = Callable[[int, int, TrainingPair], None]
"""Called after each pair with (pairs done, pairs total, the pair)."""


@dataclass(frozen=True)
class ExtractionPlan:
    """Cache keys of every pair and of the prompt set, and which of them are not cached yet."""

    pairs: tuple[TrainingPair, ...]
    keys: tuple[str, ...]
    missing: tuple[int, ...]
    text_key: str
    prompts: tuple[str, ...]
    text_cached: bool

    @property
    def needs_encoders(self) -> bool:
        return bool(self.missing) or not self.text_cached


def plan_extraction(
    pairs: Sequence[TrainingPair], layout: WeightsLayout, cache: FeatureCache
) -> ExtractionPlan:
    """Which features are already in `cache` for `pairs` and the encoders of `layout`."""
    encoders = cache_key(
        {
            "siglip2": cache.folder_identity(layout.siglip2),
            "synchformer": cache.file_identity(layout.synchformer),
            "vae": cache.file_identity(layout.vae),
            "siglip_fps": MODEL_CLIP_FPS,
        }
    )
    keys = []
    for pair in pairs:
        picture, audio = pair.picture, pair.audio
        keys.append(
            cache_key(
                {
                    "encoders": encoders,
                    "video": cache.file_identity(picture.path),
                    "picture": [
                        round(picture.start_s, 6),
                        round(picture.duration_s, 6),
                        round(picture.time_scalar, 6),
                        round(picture.record_duration_s, 6),
                    ],
                    "audio": cache.file_identity(audio.path),
                    "audio_range": [round(audio.start_s, 6), round(audio.duration_s, 6)],
                }
            )
        )
    missing = tuple(
        index
        for index, (pair, key) in enumerate(zip(pairs, keys, strict=True))
        if not (cache.directory / f"pair-{key}.safetensors").is_file()
    )
    prompts = tuple(sorted({EMPTY_PROMPT, *(pair.prompt for pair in pairs)}))
    text_key = cache_key({"clap": cache.folder_identity(layout.clap), "prompts": prompts})
    return ExtractionPlan(
        pairs=tuple(pairs),
        keys=tuple(keys),
        missing=missing,
        text_key=text_key,
        prompts=prompts,
        text_cached=(cache.directory / f"text-{text_key}.safetensors").is_file(),
    )


def extract(
    plan: ExtractionPlan,
    cache: FeatureCache,
    models: ModelSet | None,
    *,
    on_pair: PairDone | None = None,
) -> tuple[list[PairFeatures], TextTable]:
    """Every pair's features and the prompt table, from the cache or computed with `models`
    (which may be None only when everything is cached). Raises FinetuneError naming a pair
    whose files fail to decode."""
    features: list[PairFeatures] = []
    total = len(plan.pairs)
    # The picture and audio encoders stay on the device for the whole pass, not per pair.
    placed = (
        models.on_device(models.siglip, models.synchformer, models.vae)
        if models is not None
        else contextlib.nullcontext()
    )
    with placed:
        for index, (pair, key) in enumerate(zip(plan.pairs, plan.keys, strict=True)):
            found = cache.load_pair(key, pair.pair_id, pair.prompt)
            if found is None:
                if models is None:
                    raise FinetuneError(
                        f"features of {pair.origin} are not cached; load the encoders"
                    )
                found = extract_pair(pair, models)
                cache.store_pair(key, found)
            features.append(found)
            if on_pair is not None:
                on_pair(index + 1, total, pair)
    table = cache.load_text(plan.text_key)
    if table is None or table.prompts != plan.prompts:
        if models is None:
            raise FinetuneError("prompt features are not cached; load the encoders")
        with models.on_device(models.clap):
            table = encode_prompts(models.clap, plan.prompts)
        cache.store_text(plan.text_key, table)
    return features, table


def extract_pair(pair: TrainingPair, models: ModelSet) -> PairFeatures:
    """SigLIP2 + Synchformer features of the picture and the DAC-VAE latent of the audio, with
    those encoders already where they run (`models.on_device`)."""
    try:
        encoder = FrameEncoder(
            models.siglip,
            models.synchformer,
            siglip_fps=MODEL_CLIP_FPS,
            chunk_frames=_CHUNK_FRAMES,
        )
        picture = encoder.encode(MediaFileSource(pair.picture))
        excerpt = read_audio(pair.audio.path, pair.audio.start_s, pair.audio.duration_s)
    except (MediaError, ValueError) as error:
        raise FinetuneError(f"{pair.origin} cannot be decoded: {error}") from error
    with torch.inference_mode():
        audio = torch.from_numpy(excerpt.samples)[None, None].to(models.device)
        latent = models.vae.encode(models.vae.pad_to_hop(audio)).mean[0].float().cpu()
    log.info(
        "extracted %s: %d SigLIP2 frames, %d Synchformer segments, %d latent frames",
        pair.origin,
        picture.siglip.shape[0],
        picture.sync_segments,
        latent.shape[-1],
    )
    return PairFeatures(pair.pair_id, pair.prompt, picture, latent)


def encode_prompts(clap: ClapTextEncoder, prompts: Sequence[str]) -> TextTable:
    """CLAP per-token states of `prompts`, tokenised in one padded call (as generation pads a
    prompt with its negative), cut to the model's text length: [P, L, Dt]."""
    tokens = clap.tokenizer(
        list(prompts),
        padding=True,
        truncation=True,
        max_length=clap.max_tokens,
        return_tensors="pt",
    )
    device = next(clap.model.parameters()).device
    with torch.inference_mode():
        states = clap.model(
            input_ids=tokens["input_ids"].to(device),
            attention_mask=tokens["attention_mask"].to(device),
        ).last_hidden_state.float()
    return TextTable(tuple(prompts), states[:, : clap.text_length].cpu())

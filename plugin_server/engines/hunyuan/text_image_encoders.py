"""SigLIP2 image features and CLAP text features, through `transformers`, from local folders.

Both networks are standard Hugging Face models that the user provides as `save_pretrained`
folders (`siglip2/` = google/siglip2-base-patch16-512, `clap/` = laion/larger_clap_general);
nothing is downloaded (`local_files_only=True`). Both run in float32 in the reference.

SigLIP2: one vector per frame, the vision tower's pooled output (attention-pooling head after the
final LayerNorm) -- what `SiglipModel.get_image_features` returns -- with no projection and no
normalisation. Only the vision tower is loaded: the text tower of the SigLIP2 checkpoint (a 256k
vocabulary) is never used and would cost ~1 GB.

CLAP: the batch [negative_prompt, prompt] is tokenised in one call, padded to the longer of the
two (no truncation, no fixed length), and the text encoder's `last_hidden_state` [2, L, 768] is
taken (per-token states; padded positions kept as computed, not the projected embedding). Only
then are both cut to the first `text_length` (77) tokens; shorter ones are not padded to 77.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from plugin_server.engines.hunyuan.checkpoint import WeightsError

log = logging.getLogger(__name__)

TEXT_LENGTH = 77
"""The configs' `text_length`: CLAP states beyond this many tokens are dropped."""

SIGLIP_MODEL_TYPES = ("siglip", "siglip_vision_model")
CLAP_MODEL_TYPES = ("clap", "clap_text_model")


def _model_folder(directory: Path, what: str, model_types: tuple[str, ...]) -> dict[str, Any]:
    """Check `directory` is a local Hugging Face folder of the right kind; return its config."""
    directory = Path(directory)
    if not directory.is_dir():
        raise WeightsError(
            f"{what} folder {directory} does not exist; save the model there with "
            "save_pretrained (nothing is downloaded)"
        )
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise WeightsError(f"{what} folder {directory} has no config.json; is it a model folder?")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise WeightsError(f"{config_file} cannot be read as JSON ({error})") from error
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in model_types:
        raise WeightsError(
            f"{what} folder {directory} holds a {model_type!r} model; expected one of "
            f"{', '.join(model_types)}"
        )
    return config


def _check_loading(
    info: dict[str, Any], directory: Path, what: str, optional: tuple[str, ...] = ()
) -> None:
    """Refuse a folder that leaves weights the encoder uses at their random initial values.

    `optional` names key prefixes the encoder never runs (key names differ between
    transformers versions, with or without the tower's prefix, so any other missing key counts).
    """
    missing = [
        key for key in info.get("missing_keys", []) if not any(part in key for part in optional)
    ]
    mismatched = list(info.get("mismatched_keys", []))
    if missing or mismatched:
        raise WeightsError(
            f"{what} folder {directory} lacks weights the encoder needs (missing: "
            f"{sorted(missing)[:5]}, mismatched: {mismatched[:5]}); it would run with "
            "random weights"
        )


class SiglipImageEncoder:
    """SigLIP2 image features: pixels [N, 3, S, S] in [-1, 1] -> [N, D] pooled vectors.

    S is `image_size` (512 for siglip2-base-patch16-512); prepare frames with
    `preprocess.siglip_preprocess`.
    """

    def __init__(
        self,
        directory: Path,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        from transformers import SiglipVisionModel

        class _VisionOnly(SiglipVisionModel):
            # The folder holds the whole SiglipModel; its text tower is deliberately not loaded.
            _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [
                r"^text_model\.",
                r"^logit_scale",
                r"^logit_bias",
            ]

        self.directory = Path(directory)
        _model_folder(self.directory, "SigLIP2", SIGLIP_MODEL_TYPES)
        try:
            model, info = _VisionOnly.from_pretrained(
                self.directory, local_files_only=True, output_loading_info=True
            )
        except (OSError, ValueError) as error:
            raise WeightsError(
                f"SigLIP2 folder {self.directory} cannot be loaded: {error}"
            ) from error
        _check_loading(info, self.directory, "SigLIP2")
        self.model = model.to(device=device, dtype=dtype).requires_grad_(False).eval()

    @property
    def image_size(self) -> int:
        return int(self.model.config.image_size)

    @property
    def feature_dim(self) -> int:
        return int(self.model.config.hidden_size)

    def to(self, device: torch.device | str) -> SiglipImageEncoder:
        self.model.to(device)
        return self

    def encode(self, pixels: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """[N, 3, S, S] normalised pixels -> [N, D] float32 features, `batch_size` frames at a
        time (all at once by default, as the reference)."""
        size = self.image_size
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, size, size):
            raise ValueError(
                f"SigLIP2 expects pixels [N, 3, {size}, {size}], got {list(pixels.shape)}"
            )
        parameter = next(self.model.parameters())
        step = batch_size or max(1, pixels.shape[0])
        features = []
        with torch.inference_mode():
            for start in range(0, pixels.shape[0], step):
                batch = pixels[start : start + step].to(parameter.device, parameter.dtype)
                features.append(self.model(pixel_values=batch).pooler_output.float())
        return torch.cat(features, dim=0)


@dataclass(frozen=True)
class TextFeatures:
    """CLAP per-token states: `cond` (the prompt) and `uncond` (the negative prompt), both
    [1, L, D] with L = min(longer tokenisation, text_length); `tokens` is L before the cut."""

    cond: torch.Tensor
    uncond: torch.Tensor
    tokens: int


class ClapTextEncoder:
    """CLAP text features for a prompt and its negative, as the reference computes them."""

    def __init__(
        self,
        directory: Path,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        text_length: int = TEXT_LENGTH,
    ) -> None:
        from transformers import AutoTokenizer, ClapTextModelWithProjection

        self.directory = Path(directory)
        self.text_length = text_length
        _model_folder(self.directory, "CLAP", CLAP_MODEL_TYPES)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.directory, local_files_only=True)
            model, info = ClapTextModelWithProjection.from_pretrained(
                self.directory, local_files_only=True, output_loading_info=True
            )
        except (OSError, ValueError) as error:
            raise WeightsError(f"CLAP folder {self.directory} cannot be loaded: {error}") from error
        # The projection head is never run: only the per-token states are used.
        _check_loading(info, self.directory, "CLAP", optional=("text_projection.",))
        self.model = model.to(device=device, dtype=dtype).requires_grad_(False).eval()

    @property
    def feature_dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_tokens(self) -> int:
        """The longest tokenisation the text model can embed (RoBERTa positions start after
        the padding index)."""
        config = self.model.config
        return int(config.max_position_embeddings) - int(config.pad_token_id or 0) - 1

    def to(self, device: torch.device | str) -> ClapTextEncoder:
        self.model.to(device)
        return self

    def encode(self, prompt: str, negative_prompt: str) -> TextFeatures:
        """Encode [negative_prompt, prompt] in one padded batch; cut to `text_length` tokens."""
        tokens = self.tokenizer([negative_prompt, prompt], padding=True, return_tensors="pt")
        length = tokens["input_ids"].shape[1]
        if length > self.max_tokens:
            # The reference would fail here; keep what the model can embed.
            log.warning(
                "prompt of %d tokens exceeds CLAP's %d; it is truncated", length, self.max_tokens
            )
            tokens = self.tokenizer(
                [negative_prompt, prompt],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            length = self.max_tokens
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            states = self.model(
                input_ids=tokens["input_ids"].to(device),
                attention_mask=tokens["attention_mask"].to(device),
            ).last_hidden_state.float()
        states = states[:, : self.text_length]
        return TextFeatures(cond=states[1:2], uncond=states[0:1], tokens=length)

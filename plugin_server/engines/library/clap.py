"""CLAP text-to-audio ranking of library files: `transformers.ClapModel` from a local folder.

The folder is a full two-tower CLAP checkpoint in Hugging Face layout (laion/larger_clap_general,
the `clap/` folder of the hunyuan weights): `config.json` of model type "clap", the weights of
both towers, the tokenizer and the feature extractor's config. A folder with only the text
tower (what HunyuanVideo-Foley itself needs, and what `hunyuan.tiny_weights` writes) cannot
embed audio and is refused with ClapFolderError.

Audio reaches the model as its feature extractor expects it: mono, resampled to the extractor's
rate (48 kHz for laion/larger_clap_general) by the library's own polyphase resampler, and cut to
the extractor's window (10 s) so that its random cropping of longer audio never runs: the same
file always gives the same embedding. Nothing is downloaded (`local_files_only`).

Loading is lazy (torch and transformers are imported only when a CLAP folder is configured) and
once per process, folder and device (`shared_ranker`): workers and the engines they make share
one model, used under a lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from plugin_server.engines.base import EngineError
from plugin_server.engines.library.audio import resample

log = logging.getLogger(__name__)

# The hunyuan weights folder keeps its CLAP here (plugin_server/engines/hunyuan/layout.py).
WEIGHTS_SUBFOLDER = "clap"
# Model types of a CLAP config: the full model, or one tower alone.
_FULL_MODEL_TYPE = "clap"
_AUDIO_PREFIXES = ("audio_model.", "audio_projection.")
# Prompts are few and repeat across clips; their embeddings are kept (oldest dropped first).
_TEXT_CACHE_SIZE = 256

_RANKERS: dict[tuple[Path, str], ClapRanker] = {}
_RANKERS_LOCK = threading.Lock()


class ClapFolderError(EngineError):
    """A CLAP folder cannot rank library files (missing, text-only, incomplete); the message
    names the folder and what to give instead."""


def clap_folder(path: Path) -> Path:
    """The CLAP checkpoint folder for `path`: `path` itself, or its `clap/` subfolder when
    `path` is a hunyuan weights folder. Checks only the config (cheap: no torch), so that the
    command line refuses a text-only CLAP before anything starts; raises ClapFolderError."""
    path = Path(path)
    if not path.is_dir():
        raise ClapFolderError(f"CLAP folder {path} is not a directory")
    folder = path
    if not (path / "config.json").is_file() and (path / WEIGHTS_SUBFOLDER).is_dir():
        folder = path / WEIGHTS_SUBFOLDER
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ClapFolderError(
            f"CLAP folder {path} holds no config.json (nor a clap/ subfolder with one): give a "
            "Hugging Face folder of a full CLAP model such as laion/larger_clap_general"
        ) from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ClapFolderError(
            f"CLAP folder {folder}: {config_file.name} is unreadable ({error})"
        ) from error
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type != _FULL_MODEL_TYPE or not isinstance(config.get("audio_config", {}), dict):
        raise ClapFolderError(
            f"CLAP folder {folder} has no audio tower (its config is model type "
            f"{model_type!r}, not {_FULL_MODEL_TYPE!r}): library ranking embeds audio, so it "
            "needs a full two-tower CLAP checkpoint such as laion/larger_clap_general"
        )
    return folder.resolve()


def shared_ranker(path: Path, device: str = "cpu") -> ClapRanker:
    """The ranker for the CLAP folder `path` on `device`, loaded once per process."""
    folder = clap_folder(path)
    key = (folder, device)
    with _RANKERS_LOCK:
        ranker = _RANKERS.get(key)
        if ranker is None:
            ranker = ClapRanker(folder, device)
            _RANKERS[key] = ranker
        return ranker


class ClapRanker:
    """An AudioTextRanker (ranking.py) over a two-tower CLAP checkpoint.

    `model` ("clap-<16 hex>") names the weights (their config and the names, sizes and times of
    the weight files): it keys the audio embeddings cached in the library index."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.folder = clap_folder(path)
        try:
            import torch
            from transformers import ClapModel, ClapProcessor
        except ImportError as error:
            raise ClapFolderError(
                f"CLAP folder {self.folder}: ranking needs torch and transformers "
                f"(pip install 'foley-backend[model]'): {error}"
            ) from error
        self._torch = torch
        self.device = _torch_device(torch, device)
        try:
            processor = ClapProcessor.from_pretrained(self.folder, local_files_only=True)
            model, info = ClapModel.from_pretrained(
                self.folder, local_files_only=True, output_loading_info=True
            )
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as error:
            raise ClapFolderError(
                f"CLAP folder {self.folder} cannot be loaded as a CLAP model with its tokenizer "
                f"and feature extractor: {error}"
            ) from error
        missing = sorted(k for k in info.get("missing_keys", ()) if k.startswith(_AUDIO_PREFIXES))
        if missing:
            raise ClapFolderError(
                f"CLAP folder {self.folder} has no audio tower weights ({len(missing)} missing, "
                f"e.g. {missing[0]}): give a full two-tower CLAP checkpoint such as "
                "laion/larger_clap_general"
            )
        self._model = model.to(self.device).eval()
        self._tokenizer = processor.tokenizer
        self._features = processor.feature_extractor
        self.sample_rate = int(self._features.sampling_rate)
        self._max_samples = int(self._features.nb_max_samples)
        self.model = f"clap-{_weights_digest(self.folder)[:16]}"
        self._lock = threading.Lock()
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()
        log.info(
            "library ranking by CLAP from %s (%s, audio at %d Hz) on %s",
            self.folder,
            self.model,
            self.sample_rate,
            self.device,
        )

    def embed_text(self, text: str) -> np.ndarray:
        """float32 [D] unit embedding of a prompt (CLAP's projected text features)."""
        with self._lock:
            cached = self._texts.get(text)
            if cached is not None:
                self._texts.move_to_end(text)
                return cached
            tokens = self._tokenizer([text], padding=True, truncation=True, return_tensors="pt")
            with self._torch.inference_mode():
                output = self._model.get_text_features(**_on(tokens, self.device))
            vector = _vector(output)
            self._texts[text] = vector
            if len(self._texts) > _TEXT_CACHE_SIZE:
                self._texts.popitem(last=False)
            return vector

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 [D] unit embedding of mono float32 audio [n] at `sample_rate` Hz: resampled
        to the feature extractor's rate and cut to its window (see the module docstring)."""
        mono = resample(np.asarray(samples, np.float32).ravel(), sample_rate, self.sample_rate)
        mono = mono[: self._max_samples]
        if len(mono) == 0:
            raise EngineError("CLAP ranking: a library file gave no samples to embed")
        with self._lock:
            # One file per call: in "fusion" mode the extractor marks a random member of a
            # batch as long; alone, that is always this one, so the result never varies.
            features = self._features(mono, sampling_rate=self.sample_rate, return_tensors="pt")
            with self._torch.inference_mode():
                output = self._model.get_audio_features(**_on(features, self.device))
            return _vector(output)


def _torch_device(torch: Any, requested: str) -> Any:
    """ "auto" -> the first CUDA GPU if there is one, else the CPU; "cuda..." without a GPU
    falls back to the CPU (ranking is an aid: embeddings are cached, the CPU is fast enough)."""
    if requested in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise EngineError(f"device {requested!r} is not a torch device ({error})") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        log.warning("CLAP ranking: device %r has no CUDA GPU; using the CPU", requested)
        return torch.device("cpu")
    return device


def _on(batch: Any, device: Any) -> dict[str, Any]:
    return {key: value.to(device) for key, value in batch.items()}


def _vector(output: Any) -> np.ndarray:
    # transformers 5 returns a model output whose pooler_output holds the projected features;
    # 4.x returns the tensor itself.
    tensor = getattr(output, "pooler_output", output)
    vector = tensor[0].detach().float().cpu().numpy().astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _weights_digest(folder: Path) -> str:
    """A digest of the config and of each weight file's name, size and modification time
    (hashing gigabytes of weights at every start would cost seconds)."""
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for path in sorted(folder.iterdir()):
        if path.suffix in (".safetensors", ".bin") and path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}\x00{stat.st_size}\x00{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()

"""Reading and writing checkpoint files safely: `.pth` only through `torch.load(weights_only=True)`
(never unpickling arbitrary objects), and `.safetensors`.

The official files are plain `torch.save`d dicts: the transformer and Synchformer a flat state
dict, the DAC-VAE `{"state_dict": {...}, "metadata": {"kwargs": {...}}}`. A safetensors copy of
the VAE keeps the kwargs as JSON under the file's metadata key `kwargs`.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from plugin_server.engines.base import EngineUnavailable

SAFETENSORS_SUFFIX = ".safetensors"
PTH_SUFFIX = ".pth"


class WeightsError(EngineUnavailable):
    """A weights file or directory is missing, unreadable or does not fit the model."""


@dataclass(frozen=True)
class TensorInfo:
    """What `weights verify` needs of one tensor without keeping it: shape and dtype."""

    shape: tuple[int, ...]
    dtype: torch.dtype


def load_checkpoint(path: Path) -> Any:
    """The object stored in a `.pth` (weights_only, memory-mapped) or a safetensors state dict.

    Raises WeightsError naming the file when it is missing, truncated or holds pickled code.
    """
    if not path.is_file():
        raise WeightsError(f"checkpoint {path} does not exist")
    if path.suffix == SAFETENSORS_SUFFIX:
        return _load_safetensors(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except pickle.UnpicklingError as error:
        raise WeightsError(
            f"{path} holds objects other than tensors and plain containers, which are never "
            f"unpickled here (weights_only=True): {error}. Re-save it as a plain state dict."
        ) from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise WeightsError(f"{path} cannot be read as a PyTorch checkpoint: {error}") from error


def load_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A flat state dict from `path`; `what` names the network in error messages."""
    loaded = load_checkpoint(path)
    if not isinstance(loaded, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
    ):
        kind = type(loaded).__name__
        keys = list(loaded)[:5] if isinstance(loaded, Mapping) else []
        raise WeightsError(
            f"{path} ({what}) is not a flat state dict of tensors (found {kind}, first keys "
            f"{keys}); the official files are plain state dicts with the module's own key names"
        )
    return dict(loaded)


def load_vae_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The DAC-VAE's state dict and constructor kwargs (`metadata.kwargs` in the official file)."""
    if path.suffix == SAFETENSORS_SUFFIX:
        state = _load_safetensors(path)
        metadata = _safetensors_metadata(path)
        if "kwargs" not in metadata:
            raise WeightsError(f"{path}: safetensors metadata has no 'kwargs' (the DAC settings)")
        try:
            kwargs = json.loads(metadata["kwargs"])
        except json.JSONDecodeError as error:
            raise WeightsError(f"{path}: metadata 'kwargs' is not JSON ({error})") from error
        return state, kwargs
    loaded = load_checkpoint(path)
    if not isinstance(loaded, Mapping) or not isinstance(loaded.get("state_dict"), Mapping):
        raise WeightsError(
            f"{path} is not a DAC checkpoint: expected {{'state_dict': ..., 'metadata': "
            f"{{'kwargs': ...}}}} as saved by the official DAC, found keys "
            f"{list(loaded)[:5] if isinstance(loaded, Mapping) else type(loaded).__name__}"
        )
    metadata = loaded.get("metadata")
    kwargs = metadata.get("kwargs") if isinstance(metadata, Mapping) else None
    if not isinstance(kwargs, Mapping):
        raise WeightsError(f"{path}: missing metadata.kwargs (the DAC constructor settings)")
    return dict(loaded["state_dict"]), dict(kwargs)


def tensor_infos(path: Path) -> dict[str, TensorInfo]:
    """Shape and dtype of every tensor in a state-dict file, without reading their data."""
    if path.suffix == SAFETENSORS_SUFFIX:
        infos: dict[str, TensorInfo] = {}
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
                    tensor_slice = handle.get_slice(key)
                    infos[key] = TensorInfo(
                        tuple(tensor_slice.get_shape()),
                        _SAFETENSORS_DTYPES[tensor_slice.get_dtype()],
                    )
        except (SafetensorError, OSError) as error:
            raise WeightsError(f"{path} cannot be read as safetensors: {error}") from error
        return infos
    loaded = load_checkpoint(path)
    state = loaded.get("state_dict", loaded) if isinstance(loaded, Mapping) else {}
    return {
        key: TensorInfo(tuple(value.shape), value.dtype)
        for key, value in state.items()
        if isinstance(value, torch.Tensor)
    }


def save_safetensors(
    state: Mapping[str, torch.Tensor], path: Path, metadata: Mapping[str, str] | None = None
) -> None:
    """Write contiguous CPU copies of `state`; the file appears only once complete."""
    partial = path.with_name(path.name + ".partial")
    tensors = {key: value.detach().to("cpu").contiguous() for key, value in state.items()}
    save_file(tensors, str(partial), metadata=dict(metadata) if metadata else None)
    _sort_header_metadata(partial)
    partial.replace(path)


def _sort_header_metadata(path: Path) -> None:
    """Rewrite the header's `__metadata__` in sorted key order, in place.

    The safetensors writer keeps metadata in a hash map, so the same checkpoint converted twice
    would differ byte for byte; image builds cache weights layers by content, so make it stable.
    The header keeps its length (same keys, same compact JSON, same space padding).
    """
    with path.open("r+b") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        raw = handle.read(length)
        header = json.loads(raw)
        if "__metadata__" not in header:
            return
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        rewritten = json.dumps(header, separators=(",", ":")).encode()
        if len(rewritten) > length:
            return  # a writer using another JSON style: leave its header as written
        handle.seek(8)
        handle.write(rewritten.ljust(length, b" "))


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as error:
        raise WeightsError(f"{path} cannot be read as safetensors: {error}") from error


def _safetensors_metadata(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        raise WeightsError(f"{path} cannot be read as safetensors: {error}") from error


def _is_zip(path: Path) -> bool:
    """torch.save's zip format can be memory-mapped; the legacy format cannot."""
    return zipfile.is_zipfile(path)


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}

"""`weights convert SRC DST [--dtype fp16|bf16]`: a safetensors copy of a weights directory.

Each checkpoint becomes `<same name>.safetensors` (loadable without any pickle at all):
the transformer and Synchformer cast to `dtype` when one is given; the DAC-VAE always kept in
float32 (the reference decodes in float32; its 1.5 GB matter less than its numerics), with its
constructor kwargs as JSON in the file's metadata under `kwargs`. The config YAML and the
SigLIP2/CLAP folders are copied as they are, and `SHA256SUMS` is written over the result.
The copy is assembled in a sibling `<DST>.partial` folder and renamed to DST only once complete,
so a failed or interrupted conversion never leaves a directory that looks usable.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from plugin_server.engines.hunyuan.checkpoint import (
    SAFETENSORS_SUFFIX,
    WeightsError,
    load_state_dict,
    load_vae_checkpoint,
    save_safetensors,
)
from plugin_server.engines.hunyuan.layout import locate_weights
from plugin_server.engines.hunyuan.weights_verify import write_checksums

log = logging.getLogger(__name__)

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


@dataclass(frozen=True)
class ConvertedFile:
    name: str
    tensors: int
    dtype: str


def convert_weights_dir(
    source: Path, target: Path, *, dtype: str | None = None, model_size: str | None = None
) -> list[ConvertedFile]:
    """Write the safetensors copy of `source` into `target` (new or empty); see the docstring."""
    if dtype is not None and dtype not in DTYPES:
        raise WeightsError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    layout = locate_weights(Path(source), model_size=model_size)
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise WeightsError(f"target {target} exists and is not an empty directory")
    if target.resolve() == layout.root.resolve():
        raise WeightsError("source and target are the same directory")
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    cast = DTYPES[dtype] if dtype is not None else None
    try:
        converted = [
            _convert_state(layout.transformer, partial, cast, "the transformer"),
            _convert_state(layout.synchformer, partial, cast, "the Synchformer"),
            _convert_vae(layout.vae, partial),
        ]
        shutil.copy2(layout.config, partial / layout.config.name)
        for folder in (layout.siglip2, layout.clap):
            shutil.copytree(folder, partial / folder.name)
        write_checksums(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if target.exists():
        target.rmdir()
    partial.rename(target)
    return converted


def _convert_state(path: Path, target: Path, cast: torch.dtype | None, what: str) -> ConvertedFile:
    state = load_state_dict(path, what)
    if cast is not None:
        state = {
            key: value.to(cast) if value.is_floating_point() else value
            for key, value in state.items()
        }
    name = path.stem + SAFETENSORS_SUFFIX
    save_safetensors(state, target / name, metadata={"format": "pt", "source": path.name})
    dtypes = sorted({str(value.dtype).removeprefix("torch.") for value in state.values()})
    log.info("wrote %s (%d tensors, %s)", name, len(state), "/".join(dtypes))
    return ConvertedFile(name, len(state), "/".join(dtypes))


def _convert_vae(path: Path, target: Path) -> ConvertedFile:
    state, kwargs = load_vae_checkpoint(path)
    state = {key: value.float() for key, value in state.items()}
    name = path.stem + SAFETENSORS_SUFFIX
    metadata = {"format": "pt", "source": path.name, "kwargs": json.dumps(kwargs)}
    save_safetensors(state, target / name, metadata=metadata)
    return ConvertedFile(name, len(state), "float32")

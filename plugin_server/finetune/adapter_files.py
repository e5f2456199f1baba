"""Where adapters live and how they are named; no torch here, so planning can check a request.

A server's LoRA directory (`--lora-dir DIR`) holds one folder per adapter; the folder's name is
the name clients ask for (`GenerationOptions.lora`, the `lora` parameter):

    DIR/
      studio_a/   adapter_config.json  adapter_model.safetensors  foley_lora.json
      rain_fx/    ...

`foley-server finetune DATA --out DIR/studio_a` writes exactly such a folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from plugin_server.engines.base import EngineError
from plugin_server.presets.settings import LORA_NAME_PATTERN

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
FOLEY_MANIFEST = "foley_lora.json"

LORA_DIR_OPTION = "lora_dir"
"""The hunyuan engine option naming the LoRA directory."""

NAME_PATTERN = LORA_NAME_PATTERN
"""Adapter names are plain folder names: no separators, no dots, so never a path elsewhere."""


class AdapterError(EngineError):
    """A LoRA adapter is unknown, unreadable or does not fit the model; the message says which
    and what to do."""


def check_name(name: str) -> str:
    """`name` if it is a valid adapter name; raises AdapterError otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise AdapterError(
            f"LoRA name {name!r} is not valid: use 1-64 letters, digits, '_' or '-' (the name of "
            "a folder in the server's LoRA directory)"
        )
    return name


def adapter_names(lora_dir: Path) -> list[str]:
    """The adapters available in `lora_dir`, sorted."""
    if not lora_dir.is_dir():
        return []
    return sorted(
        folder.name
        for folder in lora_dir.iterdir()
        if folder.is_dir()
        and NAME_PATTERN.match(folder.name)
        and (folder / ADAPTER_WEIGHTS).is_file()
    )


def adapter_folder(lora_dir: Path | None, name: str) -> Path:
    """The folder of adapter `name` in `lora_dir`; raises AdapterError naming what is wrong and
    which adapters exist."""
    check_name(name)
    if lora_dir is None:
        raise AdapterError(
            f"LoRA {name!r} was asked for but this server has no LoRA directory; start it with "
            "--lora-dir DIR"
        )
    folder = lora_dir / name
    if not (folder / ADAPTER_WEIGHTS).is_file():
        available = ", ".join(adapter_names(lora_dir)) or "none"
        raise AdapterError(
            f"LoRA {name!r} is not in {lora_dir} (available: {available}); train one with "
            f"`foley-server finetune DATA --out {folder}`"
        )
    return folder


def adapter_digest(folder: Path) -> str:
    """Hex SHA-256 over the adapter's config and weights: which adapter exactly was used."""
    digest = hashlib.sha256()
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        digest.update(name.encode())
        with open(folder / name, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def adapter_stamp(folder: Path) -> str:
    """Size and modification time of the adapter's files, as text: cheap, and different once
    the adapter is rewritten (the result cache keys on it)."""
    parts = []
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        try:
            status = (folder / name).stat()
        except OSError as error:
            raise AdapterError(f"{folder / name} cannot be read: {error.strerror}") from error
        parts.append(f"{name}:{status.st_size}:{status.st_mtime_ns}")
    return ";".join(parts)

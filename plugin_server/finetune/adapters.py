"""Serving LoRA adapters: loaded by name from a LoRA directory, kept, applied per clip.

An engine keeps one `AdapterCache`. The first clip asking for adapter `name` reads its folder
(adapter_files.py), checks it was trained on a model of this shape, and injects it into the
transformer next to any adapters already there (peft keeps several, one active); later clips
asking for it only switch to it. Clips without a LoRA switch every adapter off. At most
`capacity` adapters stay loaded (least recently used go first). An adapter folder rewritten on
disk (its files' size or time changed) is read again.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from peft.functional import delete_adapter, set_adapter
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn

from plugin_server.engines.hunyuan.config import TransformerConfig
from plugin_server.finetune.adapter_files import (
    AdapterError,
    adapter_digest,
    adapter_folder,
    adapter_stamp,
)
from plugin_server.finetune.lora import apply_adapter, read_adapter

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 4


@dataclass(frozen=True)
class AdapterUse:
    """The adapter a clip was generated with: its name, content digest, rank and alpha."""

    name: str
    sha256: str
    rank: int
    alpha: float

    def note(self) -> str:
        return (
            f"LoRA adapter {self.name!r} applied (rank {self.rank}, alpha {self.alpha:g}, "
            f"sha256 {self.sha256[:12]})"
        )


@dataclass(frozen=True)
class _Loaded:
    internal: str
    stamp: str
    use: AdapterUse


class AdapterCache:
    """Adapters of `lora_dir` for one engine's transformer; not thread-safe (the engine's lock
    serialises clips)."""

    def __init__(self, lora_dir: Path | None, capacity: int = DEFAULT_CAPACITY) -> None:
        self.lora_dir = lora_dir
        self.capacity = max(1, capacity)
        self._model: nn.Module | None = None
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()

    def loaded(self) -> tuple[str, ...]:
        """Names of the adapters held in the transformer, least recently used first."""
        return tuple(self._loaded)

    def activate(
        self,
        transformer: nn.Module,
        config: TransformerConfig,
        model_size: str,
        name: str | None,
        *,
        fp8: bool = False,
    ) -> AdapterUse | None:
        """Make `name` the transformer's only active adapter (None: none active); returns what
        was applied. Raises AdapterError for an unknown, unreadable or unfitting adapter."""
        if transformer is not self._model:
            # A reloaded transformer (another precision or placement) starts without adapters.
            self._model = transformer
            self._loaded.clear()
        if name is None:
            _enable(transformer, False)
            return None
        if fp8:
            raise AdapterError(
                f"LoRA {name!r} cannot be applied to FP8-stored weights; set fp8_weights false "
                "for clips with a LoRA (or merge the adapter into the weights)"
            )
        folder = adapter_folder(self.lora_dir, name)
        stamp = adapter_stamp(folder)
        loaded = self._loaded.get(name)
        if loaded is None or loaded.stamp != stamp:
            if loaded is not None:
                _delete(transformer, loaded.internal)
                del self._loaded[name]
            loaded = self._load(transformer, config, model_size, name, folder, stamp)
            self._loaded[name] = loaded
            self._evict(transformer)
        self._loaded.move_to_end(name)
        _enable(transformer, True)
        set_adapter(transformer, loaded.internal, inference_mode=True)
        return loaded.use

    def _load(
        self,
        transformer: nn.Module,
        config: TransformerConfig,
        model_size: str,
        name: str,
        folder: Path,
        stamp: str,
    ) -> _Loaded:
        files = read_adapter(folder)
        files.check_base(config, model_size)
        # peft keeps adapters in ModuleDicts; a fixed-form key avoids any clash with its names.
        internal = "adapter" + hashlib.sha1(name.encode()).hexdigest()[:12]
        with warnings.catch_warnings():
            # peft warns that a second adapter joins the first: keeping several is the point.
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            apply_adapter(transformer, files, internal)
        use = AdapterUse(
            name=name,
            sha256=adapter_digest(folder),
            rank=int(files.config.r),
            alpha=float(files.config.lora_alpha),
        )
        log.info("LoRA adapter %r loaded from %s (sha256 %s)", name, folder, use.sha256[:12])
        return _Loaded(internal, stamp, use)

    def _evict(self, transformer: nn.Module) -> None:
        while len(self._loaded) > self.capacity:
            name, loaded = self._loaded.popitem(last=False)
            _delete(transformer, loaded.internal)
            log.info("LoRA adapter %r unloaded (cache of %d)", name, self.capacity)


def _delete(model: nn.Module, internal: str) -> None:
    with warnings.catch_warnings():
        # peft warns when the deleted adapter was the active one; the caller activates another.
        warnings.filterwarnings("ignore", message="Adapter .* was active which is now deleted")
        delete_adapter(model, internal, prefix="lora_")


def _enable(model: nn.Module, enabled: bool) -> None:
    for module in model.modules():
        if isinstance(module, BaseTunerLayer):
            module.enable_adapters(enabled)

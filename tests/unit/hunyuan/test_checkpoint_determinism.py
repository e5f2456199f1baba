"""Saved safetensors are byte-for-byte reproducible (Docker caches weights layers by content)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from plugin_server.engines.hunyuan.checkpoint import save_safetensors


def test_the_same_tensors_and_metadata_give_identical_files(tmp_path: Path) -> None:
    state = {"b.weight": torch.arange(6.0).reshape(2, 3), "a.bias": torch.ones(3)}
    metadata = {f"key{index}": str(index) for index in range(12)}
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    save_safetensors(state, first, metadata=metadata)
    save_safetensors(state, second, metadata=dict(reversed(list(metadata.items()))))
    assert first.read_bytes() == second.read_bytes()
    with safe_open(str(first), framework="pt") as handle:
        assert handle.metadata() == metadata
        assert torch.equal(handle.get_tensor("b.weight"), state["b.weight"])

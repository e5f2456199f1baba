"""Weights directories: finding the parts, strict and safe loading, `weights convert/verify`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hunyuan_clips import MovingBarSource, shared_tiny_weights
from hunyuan_reference import tiny_model_config

from plugin_server.cli import main
from plugin_server.engines.base import ClipRequest
from plugin_server.engines.hunyuan.checkpoint import WeightsError, load_state_dict
from plugin_server.engines.hunyuan.engine import HunyuanEngine
from plugin_server.engines.hunyuan.layout import locate_weights
from plugin_server.engines.hunyuan.loading import load_transformer, transformer_from_state
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.registry import EngineConfig
from plugin_server.presets.settings import GenerationSettings

torch.set_num_threads(1)


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    """A private copy of the tiny weights directory, free to damage."""
    return Path(shutil.copytree(shared_tiny_weights().root, tmp_path / "weights"))


class NotATensor:
    """A class a malicious checkpoint could carry; unpickling it must never happen."""

    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("hunyuanvideo_foley.pth", "hunyuanvideo_foley.pth"),
        ("synchformer_state_dict.pth", "synchformer_state_dict.pth"),
        ("vae_128d_48k.pth", "vae_128d_48k.pth"),
        ("config.yaml", "config YAML"),
        ("siglip2", "siglip2"),
        ("clap", "clap"),
    ],
)
def test_each_missing_part_is_named(weights: Path, missing: str, named: str) -> None:
    target = weights / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(WeightsError, match=named):
        locate_weights(weights)


def test_xl_is_found_by_its_official_name(weights: Path) -> None:
    (weights / "hunyuanvideo_foley.pth").rename(weights / "hunyuanvideo_foley_xl.pth")
    layout = locate_weights(weights)
    assert layout.model_size == "xl"
    assert layout.transformer.name == "hunyuanvideo_foley_xl.pth"


def test_pickled_objects_are_never_unpickled(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "hunyuanvideo_foley.pth"
    torch.save({"weight": torch.zeros(1), "payload": NotATensor()}, path)
    with pytest.raises(WeightsError, match="never unpickled"):
        load_state_dict(path, "the transformer")
    assert "unpickled!" not in capsys.readouterr().out


def test_strict_loading_lists_missing_and_unexpected_keys() -> None:
    config = tiny_model_config().transformer
    state = HunyuanVideoFoley(config).state_dict()
    state.pop("final_layer.linear.bias")
    state["module.extra"] = torch.zeros(1)
    with pytest.raises(WeightsError) as raised:
        transformer_from_state(state, config, source="ckpt.pth")
    message = str(raised.value)
    assert "1 missing key(s): final_layer.linear.bias" in message
    assert "1 unexpected key(s): module.extra" in message
    assert "'module.'" in message


def test_official_checkpoint_loads_without_renaming(tmp_path: Path) -> None:
    config = tiny_model_config().transformer
    source = HunyuanVideoFoley(config)
    path = tmp_path / "hunyuanvideo_foley.pth"
    torch.save(source.state_dict(), path)

    loaded = load_transformer(path, config, dtype=torch.bfloat16)

    assert all(p.dtype == torch.bfloat16 for p in loaded.parameters())
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.to(torch.bfloat16)), key


def test_verify_passes_a_good_directory(weights: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["weights", "verify", str(weights)]) == 0
    assert "all checks passed" in capsys.readouterr().out


def test_verify_lists_every_problem_and_fails(weights: Path, capsys: pytest.CaptureFixture) -> None:
    state = torch.load(weights / "hunyuanvideo_foley.pth", weights_only=True)
    state["final_layer.linear.weight"] = torch.zeros(3, 3)
    del state["cond_in.linear_2.bias"]
    torch.save(state, weights / "hunyuanvideo_foley.pth")
    (weights / "synchformer_state_dict.pth").unlink()
    (weights / "SHA256SUMS").write_text(f"{'0' * 64}  config.yaml\n", encoding="utf-8")

    assert main(["weights", "verify", str(weights)]) == 1

    out = capsys.readouterr().out
    assert "missing key(s): cond_in.linear_2.bias" in out
    assert "final_layer.linear.weight is [3, 3], expected [128, 48]" in out
    assert "synchformer_state_dict.pth (or .safetensors) is missing" in out
    assert "config.yaml does not match its SHA-256" in out


def test_convert_writes_a_verified_half_precision_copy_the_engine_runs(
    weights: Path, tmp_path: Path
) -> None:
    target = tmp_path / "converted"
    assert main(["weights", "convert", str(weights), str(target), "--dtype", "fp16"]) == 0
    assert main(["weights", "verify", str(target)]) == 0

    layout = locate_weights(target)
    assert layout.transformer.name == "hunyuanvideo_foley.safetensors"
    assert (target / "SHA256SUMS").is_file()
    half = load_state_dict(layout.transformer, "the transformer")
    assert {value.dtype for value in half.values()} == {torch.float16}

    engine = HunyuanEngine(EngineConfig(target, "cpu"))
    settings = GenerationSettings(diffusion_timesteps=2, use_half_precision=True)
    audio = engine.generate(ClipRequest("c", MovingBarSource(0.5), 0.5, settings=settings))
    assert audio.samples.shape == (24_000,)
    assert np.isfinite(audio.samples).all()


def test_convert_refuses_a_non_empty_target(weights: Path, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    assert main(["weights", "convert", str(weights), str(target)]) == 2
    assert (target / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "busy.partial").exists()

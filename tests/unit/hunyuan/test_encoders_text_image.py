"""SigLIP2 and CLAP wrappers load local Hugging Face folders and select the reference's outputs.

The folders are tiny random models built here with `transformers` and `save_pretrained`, plus a
byte-level BPE tokenizer generated offline; nothing is downloaded. The wrappers must give
exactly what the reference takes from the same models: SigLIP's pooled image features and CLAP's
per-token last hidden states of [negative, prompt], padded to the longer and cut to 77 tokens.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from plugin_server.engines.hunyuan.checkpoint import WeightsError  # noqa: E402
from plugin_server.engines.hunyuan.text_image_encoders import (  # noqa: E402
    ClapTextEncoder,
    SiglipImageEncoder,
)

torch.set_num_threads(2)

IMAGE_SIZE = 32
WIDTH = 24


@pytest.fixture(scope="module")
def siglip_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    config = transformers.SiglipConfig(
        text_config={
            "vocab_size": 50,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
        },
        vision_config={
            "hidden_size": WIDTH,
            "intermediate_size": 48,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": IMAGE_SIZE,
            "patch_size": 8,
        },
    )
    model = transformers.SiglipModel(config).eval()
    folder = tmp_path_factory.mktemp("weights") / "siglip2"
    model.save_pretrained(folder)
    return folder, model


def _byte_level_vocab() -> dict[str, int]:
    """RoBERTa's special tokens plus GPT-2's printable stand-in for each of the 256 bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    stand_ins, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            stand_ins[byte] = chr(byte)
        else:
            stand_ins[byte] = chr(256 + extra)
            extra += 1
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for byte in range(256):
        vocab.setdefault(stand_ins[byte], len(vocab))
    vocab["Ġn"] = len(vocab)  # one merge, so BPE merging is exercised
    return vocab


@pytest.fixture(scope="module")
def clap_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("tokenizer_source")
    vocab = _byte_level_vocab()
    (source / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (source / "merges.txt").write_text("#version: 0.2\nĠ n\n", encoding="utf-8")
    tokenizer = transformers.RobertaTokenizer.from_pretrained(source)
    torch.manual_seed(1)
    config = transformers.ClapTextConfig(
        vocab_size=len(vocab),
        hidden_size=WIDTH,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=200,
        projection_dim=8,
        pad_token_id=1,
    )
    model = transformers.ClapTextModelWithProjection(config).eval()
    folder = tmp_path_factory.mktemp("weights") / "clap"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _reference_states(folder: Path, texts: list[str]) -> torch.Tensor:
    """What the reference computes: one padded batch, last_hidden_state, no cut yet."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = transformers.ClapTextModelWithProjection.from_pretrained(folder, local_files_only=True)
    tokens = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model.eval()(**tokens).last_hidden_state


def test_siglip_features_are_the_pooled_image_features(siglip_model: tuple) -> None:
    folder, model = siglip_model
    encoder = SiglipImageEncoder(folder)
    assert encoder.image_size == IMAGE_SIZE and encoder.feature_dim == WIDTH
    pixels = torch.rand(5, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(2))
    pixels = pixels * 2 - 1
    features = encoder.encode(pixels)
    with torch.no_grad():
        expected = model.get_image_features(pixel_values=pixels)
    # transformers < 5 returns the pooled tensor, 5.x an output object holding it.
    expected = getattr(expected, "pooler_output", expected)
    assert features.shape == (5, WIDTH) and features.dtype == torch.float32
    assert float((features - expected).abs().max()) < 1e-6
    assert float((encoder.encode(pixels, batch_size=2) - features).abs().max()) < 1e-6


def test_siglip_loads_only_the_vision_tower(siglip_model: tuple) -> None:
    folder, model = siglip_model
    encoder = SiglipImageEncoder(folder)
    loaded = sum(p.numel() for p in encoder.model.parameters())
    assert loaded == sum(p.numel() for p in model.vision_model.parameters())
    assert not any("text" in name for name, _ in encoder.model.named_parameters())


def test_siglip_folder_missing_the_pooling_head_is_refused(
    siglip_model: tuple, tmp_path: Path
) -> None:
    from safetensors.torch import load_file, save_file

    source = siglip_model[0]
    folder = tmp_path / "siglip2"
    folder.mkdir()
    (folder / "config.json").write_text((source / "config.json").read_text())
    state = load_file(str(source / "model.safetensors"))
    kept = {key: value for key, value in state.items() if "vision_model.head." not in key}
    save_file(kept, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsError, match=r"lacks weights.*head\.attention"):
        SiglipImageEncoder(folder)


def test_siglip_refuses_pixels_of_the_wrong_size(siglip_model: tuple) -> None:
    encoder = SiglipImageEncoder(siglip_model[0])
    with pytest.raises(ValueError, match=r"\[N, 3, 32, 32\]"):
        encoder.encode(torch.zeros(1, 3, 16, 16))


def test_clap_orders_negative_then_prompt_and_pads_to_the_longer(clap_folder: Path) -> None:
    prompt, negative = "footsteps on gravel, near", "noisy, harsh"
    features = ClapTextEncoder(clap_folder).encode(prompt, negative)
    states = _reference_states(clap_folder, [negative, prompt])
    length = len(prompt.encode()) + 2 - 1  # one byte per token, <s> and </s>, one merge " n"
    assert states.shape == (2, length, WIDTH)
    assert features.cond.shape == features.uncond.shape == (1, length, WIDTH)
    assert torch.equal(features.uncond[0], states[0])
    assert torch.equal(features.cond[0], states[1])
    assert features.tokens == length


def test_clap_states_beyond_77_tokens_are_cut_after_encoding(clap_folder: Path) -> None:
    prompt = "glass shatters on a tiled kitchen floor, shards skitter and settle " * 2
    features = ClapTextEncoder(clap_folder).encode(prompt, "noisy, harsh")
    states = _reference_states(clap_folder, ["noisy, harsh", prompt])
    assert states.shape[1] > 77
    assert features.cond.shape == (1, 77, WIDTH)
    assert torch.equal(features.cond[0], states[1, :77])
    assert torch.equal(features.uncond[0], states[0, :77])
    assert features.tokens == states.shape[1]


def test_clap_prompt_beyond_the_model_positions_is_truncated(
    clap_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = ClapTextEncoder(clap_folder)
    with caplog.at_level(logging.WARNING):
        features = encoder.encode("rain " * 100, "")
    assert features.tokens == encoder.max_tokens == 200 - 1 - 1
    assert features.cond.shape == (1, 77, WIDTH)
    assert "truncated" in caplog.text


def test_clap_loads_the_text_part_of_a_full_clap_folder(clap_folder: Path, tmp_path: Path) -> None:
    text_model = transformers.ClapTextModelWithProjection.from_pretrained(clap_folder)
    audio_config = {
        "hidden_size": 8,
        "patch_embeds_hidden_size": 8,
        "depths": [1, 1],
        "num_attention_heads": [1, 1],
        "window_size": 2,
        "spec_size": 16,
        "num_mel_bins": 16,
        "patch_size": 4,
        "patch_stride": [4, 4],
        "projection_hidden_size": 8,
    }
    config = transformers.ClapConfig(
        text_config=text_model.config.to_dict(), audio_config=audio_config, projection_dim=8
    )
    full = transformers.ClapModel(config)
    full.text_model.load_state_dict(text_model.text_model.state_dict())
    folder = tmp_path / "clap"
    full.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(clap_folder).save_pretrained(folder)
    features = ClapTextEncoder(folder).encode("a door creaks", "noisy, harsh")
    expected = ClapTextEncoder(clap_folder).encode("a door creaks", "noisy, harsh")
    assert torch.equal(features.cond, expected.cond)


def test_missing_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"SigLIP2 folder .*siglip2 does not exist"):
        SiglipImageEncoder(tmp_path / "siglip2")
    with pytest.raises(WeightsError, match=r"CLAP folder .*clap does not exist"):
        ClapTextEncoder(tmp_path / "clap")


def test_a_folder_of_the_wrong_model_is_refused(clap_folder: Path, siglip_model: tuple) -> None:
    with pytest.raises(WeightsError, match="'clap_text_model' model"):
        SiglipImageEncoder(clap_folder)
    with pytest.raises(WeightsError, match="'siglip' model"):
        ClapTextEncoder(siglip_model[0])


def test_a_folder_without_weights_is_refused(siglip_model: tuple, tmp_path: Path) -> None:
    folder = tmp_path / "siglip2"
    folder.mkdir()
    (folder / "config.json").write_text((siglip_model[0] / "config.json").read_text())
    with pytest.raises(WeightsError, match="siglip2"):
        SiglipImageEncoder(folder)

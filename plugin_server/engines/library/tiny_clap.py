"""A tiny, seeded, two-tower CLAP checkpoint for tests: `transformers.ClapModel` with one
small text block and a two-stage audio Swin, saved with `save_pretrained` together with a
byte-level tokenizer and a feature extractor, so that `ClapRanker` loads it exactly as it loads
laion/larger_clap_general. Nothing is downloaded.

The feature extractor runs at 16 kHz with a 2 s window (the real model: 48 kHz, 10 s), so that
the ranker's resampling from the engine's 48 kHz is exercised and embedding stays quick.
"""

from __future__ import annotations

from pathlib import Path

from plugin_server.engines.hunyuan.tiny_weights import byte_level_tokenizer

TINY_CLAP_RATE = 16_000
TINY_CLAP_WINDOW_S = 2


def write_tiny_clap(folder: Path, seed: int = 0, *, audio_tower: bool = True) -> Path:
    """Write the tiny CLAP into `folder` and return it. With `audio_tower=False` the config
    still names a full CLAP but the weights hold only the text tower (an incomplete
    checkpoint, which the ranker must refuse)."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    tokenizer = byte_level_tokenizer()
    text = {
        "vocab_size": len(tokenizer.get_vocab()),
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": 130,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    # The Swin's last stage is patch_embeds_hidden_size * 2**(stages - 1) wide: hidden_size
    # must equal it. spec_size / num_mel_bins = 4 time slices stacked as the image's rows.
    audio = {
        "num_mel_bins": 16,
        "spec_size": 64,
        "window_size": 4,
        "patch_embeds_hidden_size": 8,
        "hidden_size": 16,
        "depths": [1, 1],
        "num_attention_heads": [1, 2],
        "num_hidden_layers": 2,
        "mlp_ratio": 2.0,
    }
    torch.manual_seed(seed)
    model = ClapModel(ClapConfig(text_config=text, audio_config=audio, projection_dim=8)).eval()
    model.save_pretrained(folder)
    features = ClapFeatureExtractor(
        feature_size=16,
        sampling_rate=TINY_CLAP_RATE,
        hop_length=160,
        max_length_s=TINY_CLAP_WINDOW_S,
        fft_window_size=400,
        frequency_max=TINY_CLAP_RATE // 2,
        truncation="rand_trunc",
        padding="repeatpad",
    )
    ClapProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(folder)
    if not audio_tower:
        weights = folder / "model.safetensors"
        tensors = load_file(weights)
        text_only = {k: v for k, v in tensors.items() if not k.startswith("audio_")}
        save_file(text_only, weights, metadata={"format": "pt"})
    return folder

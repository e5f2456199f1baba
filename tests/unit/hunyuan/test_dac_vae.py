"""The DAC-VAE: official key layout, tiny goldens, chunked decoding, and safe loading.

Tolerance origin: the reference's float32 outputs differ from a float64 recomputation on the
same weights by up to 1.8e-5 (dac_tiny_config.json, verification), so the README suggests an
absolute 1e-4 for an independent float32 implementation; measured here: about 2e-5 at worst
(the round trip), 6e-6 elsewhere. Outputs are O(1) audio and latents, so a wrong layer is off by
orders of magnitude more.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from io_reference import document, manifest_shapes, tensors

from plugin_server.engines.hunyuan.checkpoint import WeightsError, save_safetensors
from plugin_server.engines.hunyuan.dac_vae import (
    DacConfig,
    DacVae,
    build_dac,
    dac_from_state,
    load_dac,
)

torch.set_num_threads(2)

ATOL = 1e-4
TINY = document("dac_tiny_config.json")
IO = tensors("dac_tiny_io.safetensors")


@pytest.fixture(scope="module")
def tiny_weights() -> dict[str, torch.Tensor]:
    return tensors("dac_tiny_weights.safetensors")


@pytest.fixture(scope="module")
def tiny_dac(tiny_weights: dict[str, torch.Tensor]) -> DacVae:
    return dac_from_state(tiny_weights, TINY["constructor_kwargs"], source="dac_tiny")


def _max_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape
    return float((actual - expected).abs().max())


def test_meta_model_matches_the_official_manifest_exactly() -> None:
    manifest = document("dac_manifest.json")
    model = build_dac(DacConfig.from_kwargs(manifest["constructor_kwargs"]), device="meta")
    built = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert list(built.items()) == list(manifest_shapes("dac_manifest.json").items())
    assert sum(p.numel() for p in model.parameters()) == manifest["param_count"]
    assert model.hop_length == manifest["hop_length"] == 960
    assert model.config.latent_rate_hz == manifest["latent_frame_rate_hz"]


def test_sizes_read_from_tensor_shapes_equal_the_kwargs() -> None:
    manifest = document("dac_manifest.json")
    from_shapes = DacConfig.from_state_dict(manifest_shapes("dac_manifest.json"), 48_000)
    assert from_shapes == DacConfig.from_kwargs(manifest["constructor_kwargs"])


def test_tiny_model_matches_the_tiny_manifest() -> None:
    model = build_dac(DacConfig.from_kwargs(TINY["constructor_kwargs"]), device="meta")
    assert sum(p.numel() for p in model.parameters()) == TINY["param_count"]


def test_decode_reproduces_the_golden(tiny_dac: DacVae) -> None:
    with torch.no_grad():
        post_quant = tiny_dac.post_quant_conv(IO["dec_latent_in"])
        audio = tiny_dac.decode(IO["dec_latent_in"])
    assert _max_error(post_quant, IO["dec_post_quant_conv"]) < ATOL
    assert audio.shape == (1, 1, 960 * 10)
    assert audio.dtype == torch.float32
    assert _max_error(audio, IO["dec_audio"]) < ATOL
    assert float(audio.abs().max()) < 1.0


def test_encode_reproduces_mean_and_clamped_logvar(tiny_dac: DacVae) -> None:
    with torch.no_grad():
        pre_quant = tiny_dac.encoder(IO["enc_wave_in"])
        posterior = tiny_dac.encode(IO["enc_wave_in"])
    assert _max_error(pre_quant, IO["enc_pre_quant"]) < ATOL
    assert _max_error(posterior.mean, IO["enc_mean"]) < ATOL
    assert _max_error(posterior.logvar, IO["enc_logvar"]) < ATOL
    assert float(posterior.logvar.min()) >= -30 and float(posterior.logvar.max()) <= 20


def test_round_trip_reproduces_the_golden(tiny_dac: DacVae) -> None:
    with torch.no_grad():
        audio = tiny_dac.decode(tiny_dac.encode(IO["enc_wave_in"]).mean)
    assert _max_error(audio, IO["roundtrip_audio"]) < ATOL


def test_ragged_audio_is_right_padded_to_the_hop_then_encoded(tiny_dac: DacVae) -> None:
    padded = tiny_dac.pad_to_hop(IO["ragged_wave_in"])
    assert torch.equal(padded, IO["ragged_wave_padded"])
    with torch.no_grad():
        posterior = tiny_dac.encode(padded)
    assert _max_error(posterior.mean, IO["ragged_enc_mean"]) < ATOL
    assert _max_error(posterior.logvar, IO["ragged_enc_logvar"]) < ATOL


def test_encode_refuses_a_length_off_the_hop(tiny_dac: DacVae) -> None:
    with pytest.raises(ValueError, match="multiple of 960"):
        tiny_dac.encode(IO["ragged_wave_in"])


def test_decode_refuses_a_wrong_latent_shape(tiny_dac: DacVae) -> None:
    with pytest.raises(ValueError, match=r"\[B, 128, T\]"):
        tiny_dac.decode(torch.zeros(1, 64, 10))


@pytest.mark.parametrize("chunk_frames", [4, 13, 29])
def test_chunked_decode_equals_a_full_decode(tiny_dac: DacVae, chunk_frames: int) -> None:
    latent = torch.randn(1, 128, 30, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = tiny_dac.decode(latent)
        chunked = tiny_dac.decode(latent, chunk_frames=chunk_frames)
    assert chunked.shape == full.shape == (1, 1, 30 * 960)
    # Only float rounding separates them (measured about 2e-6).
    assert _max_error(chunked, full) < 1e-5


def test_chunk_context_must_cover_the_receptive_field(tiny_dac: DacVae) -> None:
    latent = torch.randn(1, 128, 40, generator=torch.Generator().manual_seed(4))
    reach = tiny_dac.decoder_receptive_frames()
    with torch.no_grad():
        full = tiny_dac.decode(latent)
        enough = tiny_dac.decode(latent, chunk_frames=8, context_frames=reach)
        too_little = tiny_dac.decode(latent, chunk_frames=8, context_frames=reach - 4)
    assert _max_error(enough, full) < 1e-5
    assert _max_error(too_little, full) > 1e-2


def _official_file(path: Path, weights: dict[str, torch.Tensor], **save_options: object) -> Path:
    """Write weights the way the official DAC.save does: a plain dict with kwargs metadata."""
    kwargs = dict(TINY["constructor_kwargs"])
    torch.save(
        {"state_dict": OrderedDict(weights), "metadata": {"kwargs": kwargs}}, path, **save_options
    )
    return path


def test_official_pth_loads_with_weights_only(tmp_path: Path, tiny_weights: dict) -> None:
    model = load_dac(_official_file(tmp_path / "vae_128d_48k.pth", tiny_weights))
    assert not model.training
    assert all(not p.requires_grad and p.dtype == torch.float32 for p in model.parameters())
    with torch.no_grad():
        assert _max_error(model.decode(IO["dec_latent_in"]), IO["dec_audio"]) < ATOL


def test_legacy_serialisation_loads_too(tmp_path: Path, tiny_weights: dict) -> None:
    path = _official_file(tmp_path / "vae.pth", tiny_weights, _use_new_zipfile_serialization=False)
    with torch.no_grad():
        assert _max_error(load_dac(path).decode(IO["dec_latent_in"]), IO["dec_audio"]) < ATOL


def test_half_precision_file_loads_as_float32(tmp_path: Path, tiny_weights: dict) -> None:
    half = {key: value.half() for key, value in tiny_weights.items()}
    model = load_dac(_official_file(tmp_path / "vae.pth", half))
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_safetensors_copy_with_kwargs_metadata_loads(tmp_path: Path, tiny_weights: dict) -> None:
    path = tmp_path / "vae_128d_48k.safetensors"
    save_safetensors(
        tiny_weights, path, metadata={"kwargs": json.dumps(TINY["constructor_kwargs"])}
    )
    with torch.no_grad():
        assert _max_error(load_dac(path).decode(IO["dec_latent_in"]), IO["dec_audio"]) < ATOL


class _NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path: Path, tiny_weights: dict) -> None:
    path = tmp_path / "vae.pth"
    torch.save({"state_dict": dict(tiny_weights), "metadata": {"obj": _NotATensor()}}, path)
    with pytest.raises(WeightsError, match="weights_only"):
        load_dac(path)


def test_new_parametrization_keys_are_named_in_the_error(tiny_weights: dict) -> None:
    renamed = {
        key.replace("weight_g", "parametrizations.weight.original0").replace(
            "weight_v", "parametrizations.weight.original1"
        ): value
        for key, value in tiny_weights.items()
    }
    with pytest.raises(WeightsError, match="weight_g/weight_v") as raised:
        dac_from_state(renamed, TINY["constructor_kwargs"], source="renamed.pth")
    assert "missing" in str(raised.value) and "unexpected" in str(raised.value)
    assert "renamed.pth" in str(raised.value)


def test_kwargs_that_disagree_with_the_weights_are_refused(tiny_weights: dict) -> None:
    kwargs = {**TINY["constructor_kwargs"], "decoder_dim": 128}
    with pytest.raises(WeightsError, match="shape"):
        dac_from_state(tiny_weights, kwargs, source="wrong_kwargs.pth")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="vae_128d_48k"):
        load_dac(tmp_path / "vae_128d_48k.pth")

"""Half-precision and FP8 paths stay within stated bounds of the float32 reference.

Bounds and their origin (the golden's outputs have std 1.13, the sampler's final latent 1.50):
float16 rounds at 2^-11 (4.9e-4 relative) and bfloat16 at 2^-8 (3.9e-3); a dozen matmul layers
accumulate a few units of that. Measured on this tiny model (CPU autocast): float16 forward
3.1e-3 max abs / 6e-4 relative std, bfloat16 2.4e-2 / 4.7e-3; after four guided steps float16
1.1e-2 / 1.0e-3, bfloat16 5.8e-2 / 7.9e-3. The bounds below leave about 3x margin. FP8 e4m3
keeps 3 mantissa bits (up to 6 % per weight); measured 1.5 % relative std.
"""

from __future__ import annotations

import pytest
import torch
from hunyuan_reference import tensors, tiny_model

from plugin_server.engines.hunyuan.denoiser import Conditions, GuidedTransformer
from plugin_server.engines.hunyuan.precision import (
    FP8_DTYPE,
    Fp8Weight,
    choose_precision,
    quantize_fp8_,
)
from plugin_server.engines.hunyuan.sampler import EulerSampler, FlowSchedule
from plugin_server.presets.settings import GenerationSettings

torch.set_num_threads(1)

# dtype: (forward max abs, forward relative std, sampler max abs, sampler relative std)
BOUNDS = {
    torch.float16: (1e-2, 2e-3, 3e-2, 3e-3),
    torch.bfloat16: (6e-2, 1.5e-2, 0.15, 2.5e-2),
}
FP8_RELATIVE_STD = 0.04


def relative_std(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours - reference).std() / reference.std()).item()


def forward_case1(model: torch.nn.Module, dtype: torch.dtype | None) -> torch.Tensor:
    io = tensors("tiny_io.safetensors")
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        return model(
            io["case1.x"],
            io["case1.t"],
            io["case1.clip_feat"],
            io["case1.sync_feat"],
            io["case1.cond"],
        )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_weights_under_autocast_stay_within_bound(dtype: torch.dtype) -> None:
    model = tiny_model().to(dtype)
    expected = tensors("tiny_io.safetensors")["case1.output"]

    out = forward_case1(model, dtype)

    max_abs, rel_std, _, _ = BOUNDS[dtype]
    assert out.dtype == torch.float32
    assert (out - expected).abs().max().item() < max_abs
    assert relative_std(out, expected) < rel_std
    assert all(p.dtype == dtype for p in model.parameters())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_sampling_stays_within_bound(dtype: torch.dtype) -> None:
    golden = tensors("tiny_sampler.safetensors")
    conditions = Conditions(
        golden["siglip2_feat"],
        golden["syncformer_feat"],
        golden["text_feat"],
        golden["uncond_text_feat"],
    )
    velocity = GuidedTransformer(tiny_model().to(dtype), conditions, autocast_dtype=dtype)

    final = EulerSampler(FlowSchedule(steps=4), 4.5).sample(velocity, golden["init_noise"])

    _, _, max_abs, rel_std = BOUNDS[dtype]
    assert final.dtype == torch.float32
    assert (final - golden["final_latent"]).abs().max().item() < max_abs
    assert relative_std(final, golden["final_latent"]) < rel_std


def test_residual_stream_stays_float32_under_autocast() -> None:
    model = tiny_model().to(torch.float16)
    dtypes: list[torch.dtype] = []
    handles = [
        block.register_forward_hook(lambda _m, _i, out: dtypes.append(out[0].dtype))
        for block in model.triple_blocks
    ]
    handles += [
        block.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
        for block in model.single_blocks
    ]
    forward_case1(model, torch.float16)
    for handle in handles:
        handle.remove()
    assert dtypes == [torch.float32] * 4


def test_fp8_weight_storage_stays_within_bound() -> None:
    model = tiny_model()
    block_weights = sum(
        p.numel()
        for name, p in model.named_parameters()
        if name.startswith(("triple", "single")) and p.ndim > 1
    )
    expected = tensors("tiny_io.safetensors")["case1.output"]

    stored = quantize_fp8_(model)
    out = forward_case1(model, torch.bfloat16)

    assert stored == block_weights
    fp8_layers = [m for m in model.modules() if isinstance(m, Fp8Weight)]
    assert fp8_layers and all(layer.weight_fp8.dtype == FP8_DTYPE for layer in fp8_layers)
    assert relative_std(out, expected) < FP8_RELATIVE_STD


def test_precision_follows_the_settings() -> None:
    cpu = torch.device("cpu")
    full = choose_precision(GenerationSettings(use_half_precision=False), cpu)
    half = choose_precision(GenerationSettings(use_half_precision=True), cpu)
    bf16 = choose_precision(
        GenerationSettings(use_half_precision=True, half_precision_dtype="bfloat16"), cpu
    )
    assert (full.weights, full.autocast) == (torch.float32, None)
    assert (half.weights, half.autocast) == (torch.float16, torch.float16)
    assert (bf16.weights, bf16.autocast) == (torch.bfloat16, torch.bfloat16)


def test_fp8_is_refused_on_cpu_with_a_note() -> None:
    precision = choose_precision(GenerationSettings(fp8_weights=True), torch.device("cpu"))
    assert precision.fp8 is False
    assert any("fp8_weights refused" in note and "cpu" in note for note in precision.notes)

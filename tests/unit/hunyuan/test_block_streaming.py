"""Streamed transformer blocks and FP8 storage on the tiny golden model (CPU).

On the CPU the streamer runs its real code path with no-op streams (streaming.NullStreams):
the weights it hands each block are the host copies themselves, so the streamed model must
equal the resident one bit for bit (torch.equal), at every precision, for every resident-block
count. The scheduling (what is copied when, what each compute waits for) is checked with a
recording stand-in for CUDA streams.

FP8 against BF16 on the same noise, 4 guided steps: measured 2.6e-2 relative std of the final
latent (max abs 0.23 on a latent of std 1.5); e4m3 keeps 3 mantissa bits, about 6 % per weight
at worst, averaged over many weights and compounded over four steps. Bound 5e-2, about 2x.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import torch
from hunyuan_reference import tensors, tiny_model

from plugin_server.engines.hunyuan.denoiser import Conditions, GuidedTransformer
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.hunyuan.precision import quantize_fp8_
from plugin_server.engines.hunyuan.sampler import EulerSampler, FlowSchedule
from plugin_server.engines.hunyuan.streaming import BlockStreamer, stream_groups

torch.set_num_threads(1)

CPU = torch.device("cpu")
FP8_VS_BF16_RELATIVE_STD = 0.05


def _forward(model: HunyuanVideoFoley, dtype: torch.dtype | None) -> torch.Tensor:
    io = tensors("tiny_io.safetensors")
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        return model(*(io[f"case1.{k}"] for k in ("x", "t", "clip_feat", "sync_feat", "cond")))


def _sample(model: HunyuanVideoFoley, dtype: torch.dtype | None) -> torch.Tensor:
    golden = tensors("tiny_sampler.safetensors")
    conditions = Conditions(
        golden["siglip2_feat"],
        golden["syncformer_feat"],
        golden["text_feat"],
        golden["uncond_text_feat"],
    )
    velocity = GuidedTransformer(model, conditions, autocast_dtype=dtype)
    return EulerSampler(FlowSchedule(steps=4), 4.5).sample(velocity, golden["init_noise"])


def _streamed(model: HunyuanVideoFoley, resident: int) -> BlockStreamer:
    streamer = BlockStreamer(stream_groups(model), CPU, resident)
    model.block_runner = streamer
    return streamer


@pytest.mark.parametrize("resident", [1, 2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_streamed_blocks_equal_the_resident_model_bit_for_bit(
    dtype: torch.dtype, resident: int
) -> None:
    autocast = None if dtype == torch.float32 else dtype
    model = tiny_model().to(dtype)
    expected = _forward(model, autocast)

    streamer = _streamed(model, resident)
    streamed = _forward(model, autocast)

    assert torch.equal(streamed, expected)
    blocks = len(streamer.blocks)
    assert blocks == 4 and streamer.stats.order == list(range(blocks))
    assert streamer.stats.max_resident == resident


def test_a_streamed_sampler_trajectory_equals_the_resident_one() -> None:
    model = tiny_model().to(torch.bfloat16)
    expected = _sample(model, torch.bfloat16)
    streamer = _streamed(model, 2)

    assert torch.equal(_sample(model, torch.bfloat16), expected)
    # 4 steps, batched guidance: one pass per step, every block once per pass.
    assert streamer.stats.order == list(range(4)) * 4


def test_fp8_blocks_stream_bit_for_bit_and_stay_near_bf16_on_the_same_noise() -> None:
    bf16 = _sample(tiny_model().to(torch.bfloat16), torch.bfloat16)
    model = tiny_model().to(torch.bfloat16)
    quantize_fp8_(model)
    fp8 = _sample(model, torch.bfloat16)
    streamer = _streamed(model, 2)

    assert torch.equal(_sample(model, torch.bfloat16), fp8)
    # The streamed bytes are the FP8 ones: one byte per block weight plus the scales.
    float8 = [t for h in streamer.host for t in h.values() if t.dtype == torch.float8_e4m3fn]
    assert float8
    relative = ((fp8 - bf16).std() / bf16.std()).item()
    assert 0 < relative < FP8_VS_BF16_RELATIVE_STD


class RecordingStreams:
    """Stands in for CUDA streams; logs copies, event waits and the computes between them."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self._copying = False
        self._events = 0

    @contextlib.contextmanager
    def copy_context(self) -> Any:
        self._copying = True
        yield
        self._copying = False

    def new_event(self) -> Any:
        assert self._copying, "the ready event must be recorded on the copy stream"
        self._events += 1
        number = self._events
        self.log.append(f"copy e{number}")

        class _Event:
            def record(self, stream: Any = None) -> None:
                return None

            def __repr__(self) -> str:
                return f"e{number}"

        return _Event()

    def wait(self, event: Any) -> None:
        self.log.append(f"wait {event!r}")

    def mark_used_by_compute(self, tensor: torch.Tensor) -> None:
        return None


@pytest.mark.parametrize(
    ("resident", "expected"),
    [
        # One resident block: each copy is issued only when its block is needed (no overlap).
        (1, ["copy e1", "wait e1", "run 0", "copy e2", "wait e2", "run 1"]),
        # Two: block i+1 is copied before block i computes, so the copy overlaps the compute.
        (2, ["copy e1", "copy e2", "wait e1", "run 0", "copy e3", "wait e2", "run 1"]),
    ],
)
def test_copies_are_issued_ahead_and_computes_wait_on_their_event(
    resident: int, expected: list[str]
) -> None:
    log: list[str] = []
    model = tiny_model()
    streamer = BlockStreamer(stream_groups(model), CPU, resident, RecordingStreams(log))
    for block in streamer.blocks:
        block.register_forward_pre_hook(
            lambda module, _args: log.append(f"run {streamer.blocks.index(module)}")
        )
    model.block_runner = streamer
    _forward(model, None)
    assert log[: len(expected)] == expected
    assert log.count("wait e1") == 1 and not any("sync" in entry for entry in log)

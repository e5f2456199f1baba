"""The Euler/CFG sampler reproduces the official 4-step guided trajectory step by step.

Tolerances: each model call is bounded by the forward golden's 1e-5 (see
test_transformer_golden.py). A guided velocity mixes two calls with weights 1 + 4.5 and 4.5, so
its error is at most 10x that, 1e-4; an Euler step scales it by |dt| = 0.25 and four steps add
up to 1e-4 on the latents. The README suggests 5e-4 for the final latent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from hunyuan_reference import tensors, tiny_model

from plugin_server.engines.base import Cancelled
from plugin_server.engines.hunyuan.denoiser import Conditions, GuidedTransformer
from plugin_server.engines.hunyuan.sampler import (
    EulerSampler,
    FlowSchedule,
    KnownLatent,
    initial_noise,
)

MODEL_ATOL = 1e-5
VELOCITY_ATOL = 1e-4
LATENT_ATOL = 1e-4

torch.set_num_threads(1)


@dataclass
class Recorder:
    """Wraps a velocity and keeps what the sampler passed and got back at each step."""

    inner: GuidedTransformer
    calls: list[dict[str, torch.Tensor | bool | None]] = field(default_factory=list)

    def __call__(self, latent: torch.Tensor, t: torch.Tensor, *, guided: bool):
        v_uncond, v_cond = self.inner(latent, t, guided=guided)
        self.calls.append(
            {"latent": latent.clone(), "t": t.clone(), "v_uncond": v_uncond, "v_cond": v_cond}
        )
        return v_uncond, v_cond


@dataclass
class StopAfter:
    """A cancel token that reports set once `steps` progress callbacks have happened."""

    steps: int
    seen: int = 0

    def is_set(self) -> bool:
        return self.seen >= self.steps

    def step_done(self, done: int, total: int) -> None:
        self.seen = done


@pytest.fixture(scope="module")
def golden() -> dict[str, torch.Tensor]:
    return tensors("tiny_sampler.safetensors")


@pytest.fixture(scope="module")
def guided(golden: dict[str, torch.Tensor]) -> GuidedTransformer:
    conditions = Conditions(
        clip=golden["siglip2_feat"],
        sync=golden["syncformer_feat"],
        text=golden["text_feat"],
        negative_text=golden["uncond_text_feat"],
    )
    return GuidedTransformer(tiny_model(), conditions)


def test_schedule_matches_reference(golden: dict[str, torch.Tensor]) -> None:
    sigmas = FlowSchedule(steps=4).sigmas()
    assert torch.equal(sigmas, golden["sigmas"])
    assert torch.equal(sigmas[:-1] * 1000, golden["timesteps"])


def test_shifted_schedule_uses_the_sd3_formula() -> None:
    plain = FlowSchedule(steps=4).sigmas()
    shifted = FlowSchedule(steps=4, shift=3.0).sigmas()
    assert torch.allclose(shifted, 3 * plain / (1 + 2 * plain))
    assert shifted[0] == 1 and shifted[-1] == 0


@pytest.mark.parametrize("cfg_mode", ["batched", "sequential"])
def test_guided_trajectory_matches_reference_step_by_step(
    golden: dict[str, torch.Tensor], guided: GuidedTransformer, cfg_mode: str
) -> None:
    guided.cfg_mode = cfg_mode  # type: ignore[assignment]
    recorder = Recorder(guided)
    sampler = EulerSampler(FlowSchedule(steps=4), guidance_scale=4.5)

    final = sampler.sample(recorder, golden["init_noise"])

    assert len(recorder.calls) == 4
    for step, call in enumerate(recorder.calls):
        latent_in = golden[f"step{step}.latent_in"]
        assert (call["latent"] - latent_in).abs().max() < LATENT_ATOL, step
        assert torch.equal(call["t"], golden[f"step{step}.model_t"][:1]), step
        assert (call["v_uncond"] - golden[f"step{step}.v_uncond"]).abs().max() < MODEL_ATOL
        assert (call["v_cond"] - golden[f"step{step}.v_cond"]).abs().max() < MODEL_ATOL
        guided_v = sampler.guided(recorder.inner, latent_in, golden["sigmas"][step])
        assert (guided_v - golden[f"step{step}.v_guided"]).abs().max() < VELOCITY_ATOL
    assert (final - golden["final_latent"]).abs().max() < LATENT_ATOL
    assert final.dtype == torch.float32


def test_one_step_from_the_reference_latent_gives_the_reference_latent_out(
    golden: dict[str, torch.Tensor], guided: GuidedTransformer
) -> None:
    sampler = EulerSampler(FlowSchedule(steps=4), guidance_scale=4.5)
    sigmas = golden["sigmas"]
    for step in range(4):
        latent_in = golden[f"step{step}.latent_in"]
        velocity = sampler.guided(guided, latent_in, sigmas[step])
        latent_out = latent_in + velocity * (sigmas[step + 1] - sigmas[step])
        assert (latent_out - golden[f"step{step}.latent_out"]).abs().max() < LATENT_ATOL


def test_guidance_at_or_below_one_runs_only_the_conditional_branch(
    guided: GuidedTransformer, golden: dict[str, torch.Tensor]
) -> None:
    recorder = Recorder(guided)
    EulerSampler(FlowSchedule(steps=2), guidance_scale=1.0).sample(recorder, golden["init_noise"])
    assert [call["v_uncond"] for call in recorder.calls] == [None, None]


def test_cancel_is_checked_between_steps(
    guided: GuidedTransformer, golden: dict[str, torch.Tensor]
) -> None:
    recorder = Recorder(guided)
    token = StopAfter(steps=2)
    sampler = EulerSampler(FlowSchedule(steps=4))
    with pytest.raises(Cancelled, match="step 3/4"):
        sampler.sample(recorder, golden["init_noise"], cancel=token, on_step=token.step_done)
    assert len(recorder.calls) == 2


def test_progress_is_reported_after_every_step(
    guided: GuidedTransformer, golden: dict[str, torch.Tensor]
) -> None:
    reports: list[tuple[int, int]] = []
    EulerSampler(FlowSchedule(steps=3)).sample(
        guided, golden["init_noise"], on_step=lambda done, total: reports.append((done, total))
    )
    assert reports == [(1, 3), (2, 3), (3, 3)]


def test_known_frames_are_kept_exactly_and_the_rest_is_generated(
    guided: GuidedTransformer, golden: dict[str, torch.Tensor]
) -> None:
    noise = golden["init_noise"]
    known_values = golden["final_latent"]
    mask = torch.zeros(noise.shape[-1], dtype=torch.bool)
    mask[:30] = True
    sampler = EulerSampler(FlowSchedule(steps=4))

    result = sampler.sample(guided, noise, known=KnownLatent(known_values, mask))
    free = sampler.sample(guided, noise)

    assert torch.equal(result[..., :30], known_values[..., :30])
    assert not torch.allclose(result[..., 30:], free[..., 30:], atol=1e-3)


def test_noise_is_a_function_of_seed_and_shape_only() -> None:
    first = initial_noise(1234, (1, 128, 500))
    again = initial_noise(1234, (1, 128, 500))
    other = initial_noise(1235, (1, 128, 500))

    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.dtype == torch.float32
    assert abs(first.mean().item()) < 0.02
    assert abs(first.std().item() - 1) < 0.02


def test_global_rng_state_does_not_change_the_noise() -> None:
    torch.manual_seed(0)
    first = initial_noise(7, (1, 128, 50))
    torch.manual_seed(99)
    torch.randn(1000)
    assert torch.equal(first, initial_noise(7, (1, 128, 50)))

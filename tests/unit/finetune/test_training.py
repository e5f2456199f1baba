"""LoRA training on a tiny synthetic dataset with the tiny random model: the loss goes down,
checkpoints resume exactly, gradient checkpointing changes no gradient, the command leaves an
adapter, a loss curve and a progress line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
from finetune_data import shared_weights, studio_folder

from plugin_server.cli import main
from plugin_server.engines.hunyuan.config import load_model_config
from plugin_server.engines.hunyuan.loading import load_transformer
from plugin_server.engines.hunyuan.models import load_models
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.hunyuan.precision import Precision
from plugin_server.finetune.checkpoints import load_checkpoint, save_checkpoint
from plugin_server.finetune.discovery import discover
from plugin_server.finetune.errors import CheckpointError
from plugin_server.finetune.extraction import extract, plan_extraction
from plugin_server.finetune.feature_cache import FeatureCache, PairFeatures, TextTable
from plugin_server.finetune.lora import LoraSpec, lora_state
from plugin_server.finetune.objective import flow_loss
from plugin_server.finetune.trainer import Trainer, TrainingSettings, prepare_model
from plugin_server.finetune.validation import validate
from plugin_server.finetune.windows import WindowSampler, window_frames

torch.set_num_threads(1)

CPU = torch.device("cpu")
SETTINGS = TrainingSettings(
    steps=30,
    batch_size=2,
    learning_rate=3e-3,
    lora=LoraSpec(rank=4, alpha=4.0),
    window_s=8.0,
    condition_dropout=0.0,
)


@dataclass(frozen=True)
class Prepared:
    features: list[PairFeatures]
    text: TextTable
    data: Path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """Three 1.6 s pairs, their features extracted once with the tiny encoders."""
    root = tmp_path_factory.mktemp("training")
    data = studio_folder(root / "data", count=3, seconds=1.6)
    layout = shared_weights()
    dataset = validate(discover([data]), batch_size=2)
    cache = FeatureCache(root / "cache")
    plan = plan_extraction(dataset.pairs, layout, cache)
    models = load_models(layout, Precision(torch.float32, None, False), CPU, offload=True)
    features, text = extract(plan, cache, models)
    return Prepared(features, text, data)


def transformer() -> HunyuanVideoFoley:
    layout = shared_weights()
    return load_transformer(layout.transformer, load_model_config(layout.config).transformer)


def trainer(prepared: Prepared, settings: TrainingSettings = SETTINGS) -> Trainer:
    model = transformer()
    prepare_model(model, settings, CPU)
    sampler = WindowSampler(
        prepared.features,
        prepared.text,
        frames=window_frames(prepared.features, settings.window_s),
        batch_size=settings.batch_size,
        seed=settings.seed,
        condition_dropout=settings.condition_dropout,
    )
    return Trainer(model, sampler, settings, CPU, [f.pair_id for f in prepared.features])


def held_out_loss(run: Trainer) -> float:
    """The loss on six fixed batches (fixed windows, sigma and noise), without gradients."""
    generator = torch.Generator().manual_seed(1234)
    run.model.eval()
    with torch.no_grad():
        losses = [
            float(flow_loss(run.model, run.sampler.batch(i, generator), generator, device=CPU))
            for i in range(6)
        ]
    return sum(losses) / len(losses)


def test_features_have_the_shapes_training_needs(prepared: Prepared) -> None:
    pair = prepared.features[0]
    assert pair.latent.shape == (128, 80)  # 1.6 s at 50 latent frames/s
    assert pair.picture.sync_frames == 40  # 1.6 s at 25 fps
    assert pair.picture.sync.shape == (8 * 4, 48)  # (40 - 16) // 8 + 1 segments, tiny width
    assert prepared.text.states.shape[0] == 2  # "" and "footsteps on gravel"


def test_a_few_steps_reduce_the_loss(prepared: Prepared) -> None:
    run = trainer(prepared)
    before = held_out_loss(run)

    for _ in range(SETTINGS.steps):
        run.train_step()

    after = held_out_loss(run)
    assert after < 0.9 * before, (before, after)


def test_a_fresh_adapter_changes_nothing(prepared: Prepared) -> None:
    plain = transformer()
    run = trainer(prepared)
    batch = run.sampler.batch(0, torch.Generator().manual_seed(0))

    plain_loss = flow_loss(plain, batch, torch.Generator().manual_seed(5), device=CPU)
    adapted_loss = flow_loss(run.model, batch, torch.Generator().manual_seed(5), device=CPU)

    assert float(adapted_loss.detach()) == float(plain_loss.detach())  # LoRA B starts at zero


def test_resuming_a_checkpoint_continues_exactly(prepared: Prepared, tmp_path: Path) -> None:
    straight = trainer(prepared, replace(SETTINGS, steps=4))
    for _ in range(4):
        straight.train_step()

    first = trainer(prepared, replace(SETTINGS, steps=4))
    first.train_step()
    first.train_step()
    save_checkpoint(tmp_path / "step-2.pt", first.state())
    resumed = trainer(prepared, replace(SETTINGS, steps=4))
    resumed.resume(load_checkpoint(tmp_path / "step-2.pt"), tmp_path / "step-2.pt")
    resumed.train_step()
    resumed.train_step()

    expected, got = lora_state(straight.model), lora_state(resumed.model)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[key], got[key]) for key in expected)
    assert resumed.step == 4


def test_a_checkpoint_refuses_other_settings(prepared: Prepared, tmp_path: Path) -> None:
    run = trainer(prepared)
    run.train_step()
    save_checkpoint(tmp_path / "step-1.pt", run.state())
    other = trainer(prepared, replace(SETTINGS, lora=LoraSpec(rank=8, alpha=4.0)))

    with pytest.raises(CheckpointError, match=r"rank 8 \(checkpoint: 4\)"):
        other.resume(load_checkpoint(tmp_path / "step-1.pt"), tmp_path / "step-1.pt")


def test_gradient_checkpointing_changes_no_gradient(prepared: Prepared) -> None:
    grads = []
    for checkpointing in (False, True):
        run = trainer(prepared, replace(SETTINGS, gradient_checkpointing=checkpointing))
        # Non-zero B so that every LoRA factor gets a gradient.
        with torch.no_grad():
            for name, parameter in run.model.named_parameters():
                if "lora_B" in name:
                    parameter.fill_(0.01)
        batch = run.sampler.batch(0, torch.Generator().manual_seed(0))
        flow_loss(run.model, batch, torch.Generator().manual_seed(3), device=CPU).backward()
        # The last triple block's visual stream feeds nothing after it: its LoRA gets no grad.
        grads.append({n: p.grad for n, p in run.model.named_parameters() if p.grad is not None})

    assert grads[0].keys() == grads[1].keys()
    assert len(grads[0]) > 20
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-5, atol=1e-7)


def test_bf16_autocast_trains_float32_adapters(prepared: Prepared) -> None:
    run = trainer(prepared, replace(SETTINGS, precision="bf16"))

    loss = run.train_step()

    assert 0 < loss < 100
    assert all(p.dtype == torch.float32 for p in run.parameters)
    assert any(
        float(p.detach().abs().sum()) > 0 for n, p in run.model.named_parameters() if "lora_B" in n
    )


def test_the_command_writes_an_adapter_a_loss_curve_and_a_checkpoint(
    prepared: Prepared, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "studio_a"
    arguments = ["finetune", str(prepared.data), "--weights", str(shared_weights().root)]
    arguments += ["--out", str(out), "--steps", "6", "--rank", "4", "--batch-size", "2"]
    arguments += ["--device", "cpu", "--save-every", "3", "--cache-dir", str(tmp_path / "cache")]

    code = main(arguments)

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "step 6/6" in captured.err and "loss" in captured.err and "step/s" in captured.err
    for name in ("adapter_config.json", "adapter_model.safetensors", "foley_lora.json"):
        assert (out / name).is_file()
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "loss.csv").read_text().splitlines()) == 1 + 6
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-000003.pt",
        "step-000006.pt",
    ]
    assert f"adapter:     {out}" in captured.out

    # Resuming to 8 steps reads every feature from the cache and continues from step 6.
    arguments[arguments.index("6")] = "8"
    code = main([*arguments, "--resume", str(out / "checkpoints" / "step-000006.pt")])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "features of all 3 pair(s) found in the cache" in captured.err
    assert "step 8/8" in captured.err
    assert len((out / "loss.csv").read_text().splitlines()) == 1 + 8

"""Adapters after training: saved and read back exactly, served by name from a LoRA directory
(cached, reported, refused when unknown), and equal to the same adapter merged into the
weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from finetune_data import shared_weights, write_video

from plugin_server.engines.base import ClipRequest
from plugin_server.engines.hunyuan.config import load_model_config
from plugin_server.engines.hunyuan.engine import HunyuanEngine
from plugin_server.engines.hunyuan.loading import load_transformer
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.registry import EngineConfig
from plugin_server.finetune.adapter_files import AdapterError, adapter_digest
from plugin_server.finetune.adapters import AdapterCache
from plugin_server.finetune.lora import (
    LoraSpec,
    add_lora,
    apply_adapter,
    base_description,
    lora_state,
    merge_adapters_,
    read_adapter,
    save_adapter,
)
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import MediaSpan
from plugin_server.pipeline.cache import ResultCache
from plugin_server.pipeline.errors import InvalidRequest
from plugin_server.pipeline.identity import MediaIdentity
from plugin_server.pipeline.plan import MediaClipInput, PlanningContext, plan_media_clip
from plugin_server.pipeline.request import GenerationRequest
from plugin_server.planning.wiring import wired_engine
from plugin_server.presets.settings import GenerationSettings, PresetError
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.server.translate import generation_request

torch.set_num_threads(1)

FAST = GenerationSettings(diffusion_timesteps=2, use_half_precision=False)


def transformer() -> HunyuanVideoFoley:
    layout = shared_weights()
    return load_transformer(layout.transformer, load_model_config(layout.config).transformer)


def make_adapter(folder: Path, seed: int, rank: int = 4) -> HunyuanVideoFoley:
    """A random (non-zero) adapter written to `folder`; returns the model it was made on."""
    layout = shared_weights()
    model = transformer()
    config = LoraSpec(rank=rank, alpha=float(rank)).config(init=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        add_lora(model, config)
    with torch.no_grad():  # keep the change moderate so the audio stays in range
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(0.05)
    base = base_description(load_model_config(layout.config).transformer, layout.model_size)
    save_adapter(folder, model, config, base=base, training={"steps": 0})
    return model


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("loras")
    make_adapter(root / "studio", seed=1)
    make_adapter(root / "rain_fx", seed=2)
    return root


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "walk.mp4", 1.2)


def clip(video: Path, lora: str | None = None) -> ClipRequest:
    return ClipRequest(
        clip_id="clip-1",
        frames=MediaFileSource(MediaSpan(video, 0.0, 1.0, 1.0, 1.0)),
        duration_s=1.0,
        prompt="footsteps",
        seed=3,
        settings=FAST.with_overrides({"lora": lora}) if lora else FAST,
    )


def engine(lora_dir: Path | None) -> HunyuanEngine:
    options = {"lora_dir": str(lora_dir)} if lora_dir else {}
    config = EngineConfig(weights_dir=shared_weights().root, device="cpu", options=options)
    return wired_engine("hunyuan", config)  # type: ignore[return-value]


def test_a_saved_adapter_reads_back_exactly(tmp_path: Path) -> None:
    original = make_adapter(tmp_path / "a", seed=7)
    reloaded = transformer()

    apply_adapter(reloaded, read_adapter(tmp_path / "a"), "foley")

    saved, loaded = lora_state(original), lora_state(reloaded)
    assert saved.keys() == loaded.keys() and len(saved) == 36  # 18 projections x (A, B)
    assert all(torch.equal(saved[key], loaded[key]) for key in saved)
    inputs = (torch.randn(1, 128, 50), torch.tensor([500.0]), torch.randn(1, 8, 32))
    inputs += (torch.randn(1, 24, 48), torch.randn(1, 7, 32))
    original.eval()
    with torch.no_grad():
        assert torch.equal(original(*inputs), reloaded(*inputs))


def test_an_adapter_changes_the_audio_and_equals_it_merged(lora_dir: Path, video: Path) -> None:
    served = engine(lora_dir)
    base = served.generate(clip(video)).samples
    adapted = served.generate(clip(video, "studio"))
    again = served.generate(clip(video)).samples

    merged_engine = engine(None)
    merged_model = transformer()
    apply_adapter(merged_model, read_adapter(lora_dir / "studio"), "m")
    merged_state = merge_adapters_(merged_model)
    merged_engine.loaded_models(FAST).transformer.load_state_dict(merged_state, strict=True)
    merged = merged_engine.generate(clip(video)).samples

    assert np.max(np.abs(adapted.samples - base)) > 1e-3
    np.testing.assert_allclose(merged, adapted.samples, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(again, base)  # no LoRA: the base model exactly
    report = adapted.report
    assert report.parameters["lora"] == "studio"
    assert report.parameters["lora_sha256"] == adapter_digest(lora_dir / "studio")
    assert any("LoRA adapter 'studio' applied (rank 4" in note for note in report.notes)


def test_adapters_are_cached_switched_and_reread_when_rewritten(tmp_path: Path) -> None:
    make_adapter(tmp_path / "a", seed=1)
    make_adapter(tmp_path / "b", seed=2)
    layout = shared_weights()
    config = load_model_config(layout.config).transformer
    model = transformer().eval()
    cache = AdapterCache(tmp_path, capacity=2)
    inputs = (torch.randn(1, 128, 50), torch.tensor([500.0]), torch.randn(1, 8, 32))
    inputs += (torch.randn(1, 24, 48), torch.randn(1, 7, 32))

    def output(name: str | None) -> torch.Tensor:
        cache.activate(model, config, layout.model_size, name)
        with torch.no_grad():
            return model(*inputs)

    with torch.no_grad():
        plain = model(*inputs)
    first_a, first_b = output("a"), output("b")
    assert cache.loaded() == ("a", "b")
    assert torch.equal(output("a"), first_a)  # switching back reuses the loaded adapter
    assert torch.equal(output(None), plain)
    assert not torch.equal(first_a, first_b)

    make_adapter(tmp_path / "a", seed=9)  # retrained under the same name
    stat = (tmp_path / "a" / "adapter_model.safetensors").stat()
    os.utime(
        tmp_path / "a" / "adapter_model.safetensors",
        ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9),
    )
    assert not torch.equal(output("a"), first_a)

    make_adapter(tmp_path / "c", seed=3)
    output("c")
    assert cache.loaded() == ("a", "c")  # capacity 2: "b", least recently used, went


def test_an_unknown_adapter_is_named_with_the_ones_there_are(lora_dir: Path, video: Path) -> None:
    with pytest.raises(AdapterError, match=r"'nope' is not in .*available: rain_fx, studio"):
        engine(lora_dir).generate(clip(video, "nope"))
    with pytest.raises(AdapterError, match="no LoRA directory; start it with --lora-dir"):
        engine(None).generate(clip(video, "studio"))


def test_an_adapter_of_another_model_shape_is_refused(tmp_path: Path, video: Path) -> None:
    make_adapter(tmp_path / "other", seed=1)
    manifest = tmp_path / "other" / "foley_lora.json"
    manifest.write_text(manifest.read_text().replace('"hidden_size": 48', '"hidden_size": 1536'))

    with pytest.raises(
        AdapterError, match=r"trained on another model: hidden_size 1536 \(here 48\)"
    ):
        engine(tmp_path).generate(clip(video, "other"))


def planning(lora_dir: Path, tmp_path: Path, engine_name: str = "hunyuan") -> PlanningContext:
    from plugin_server.engines.base import EngineInfo

    return PlanningContext(
        default_engine=engine_name,
        default_preset="default",
        engine_info=lambda name: EngineInfo(name, "HunyuanVideo-Foley XXL", True, device="cpu"),
        identity=MediaIdentity(),
        cache=ResultCache(tmp_path / "cache"),
        engine_options={"lora_dir": str(lora_dir)},
    )


def media(video: Path) -> MediaClipInput:
    return MediaClipInput("c1", video, 0.0, 1.0, 1.0, 1.0, 0.0)


def test_planning_refuses_an_unknown_adapter_before_any_clip(
    lora_dir: Path, video: Path, tmp_path: Path
) -> None:
    request = GenerationRequest(parameters={"lora": "nope"})
    with pytest.raises(InvalidRequest, match=r"'nope' is not in .*available: rain_fx, studio"):
        plan_media_clip(media(video), request, planning(lora_dir, tmp_path))
    procedural = GenerationRequest(engine="procedural", parameters={"lora": "studio"})
    with pytest.raises(InvalidRequest, match="apply to the hunyuan engine"):
        plan_media_clip(media(video), procedural, planning(lora_dir, tmp_path))


def test_the_result_cache_tells_adapters_and_their_versions_apart(
    video: Path, tmp_path: Path
) -> None:
    loras = tmp_path / "loras"
    make_adapter(loras / "studio", seed=1)
    make_adapter(loras / "rain_fx", seed=2)
    context = planning(loras, tmp_path)

    def key(lora: str | None) -> str | None:
        request = GenerationRequest(parameters={"lora": lora} if lora else {})
        return plan_media_clip(media(video), request, context).plan.clips[0].cache_key

    before = key("studio")
    assert len({key(None), before, key("rain_fx")}) == 3
    weights = loras / "studio" / "adapter_model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert key("studio") != before


def test_the_wire_option_becomes_the_lora_parameter() -> None:
    request = generation_request(pb.GenerationOptions(lora="studio_a"))
    assert request.parameters == {"lora": "studio_a"}

    options = pb.GenerationOptions(lora="studio_a")
    options.parameters.update({"lora": "rain_fx"})
    with pytest.raises(InvalidRequest, match="disagree"):
        generation_request(options)


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "x" * 65, "with.dot"])
def test_a_lora_name_that_is_not_a_plain_folder_name_is_refused(name: str) -> None:
    with pytest.raises(PresetError, match="must be the name of a LoRA adapter folder"):
        GenerationSettings().with_overrides({"lora": name})


def test_the_clip_report_on_the_wire_names_the_adapter(tmp_path: Path) -> None:
    from plugin_server.engines.base import EngineReport
    from plugin_server.pipeline.records import AudioFileFacts, ClipOutcome
    from plugin_server.server.translate import report_message

    def outcome(parameters: dict) -> ClipOutcome:
        return ClipOutcome(
            clip_id="c1",
            path=tmp_path / "c1.wav",
            file_name="c1.wav",
            from_cache=False,
            report=EngineReport("hunyuan", "HunyuanVideo-Foley XXL", parameters, 0, {}),
            audio=AudioFileFacts(48_000, 48_000, 100, "0" * 64),
            prompt="",
            seed=0,
            elapsed_s=1.0,
        )

    assert report_message(outcome({"lora": "studio", "lora_sha256": "ab"})).lora == "studio"
    assert report_message(outcome({})).lora == ""


def test_generate_applies_the_named_adapter_end_to_end(
    lora_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from finetune_data import timeline_with_foley

    from plugin_server.cli import main

    edit = timeline_with_foley(tmp_path, picture_frames=(30,))
    common = [
        *("generate", str(edit), "--engine", "hunyuan", "--weights"),
        str(shared_weights().root),
    ]
    common += ["--device", "cpu", "--steps", "2", "--param", "use_half_precision=false", "--quiet"]
    common += ["--lora-dir", str(lora_dir)]

    def audio(output: str, *extra: str) -> bytes:
        code = main([*common, "-o", str(tmp_path / output), *extra])
        assert code == 0, capsys.readouterr().err
        (wav,) = (tmp_path / f"{Path(output).stem}_audio").glob("*.wav")
        return wav.read_bytes()

    assert audio("plain.otio") != audio("studio.otio", "--lora", "studio")
    code = main([*common, "-o", str(tmp_path / "x.otio"), "--lora", "nope"])
    assert code == 2
    assert "LoRA 'nope' is not in" in capsys.readouterr().err

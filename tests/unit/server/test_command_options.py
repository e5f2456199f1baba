"""`serve` and `generate` options: engine switches become settings overrides and engine options."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from plugin_server.commands import generate, serve
from plugin_server.commands._options import OptionError, engine_choice


def _parse(module, argv: list[str]) -> argparse.Namespace:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_model_switches_map_to_overrides_and_engine_options(tmp_path: Path) -> None:
    noise = tmp_path / "noise.safetensors"
    noise.write_bytes(b"\0")
    weights = tmp_path / "weights"
    weights.mkdir()
    args = _parse(
        generate,
        ["edit.otio", "-o", "out.otio", "--engine", "hunyuan", "--weights", str(weights),
         "--steps", "12", "--guidance", "3.5", "--seed", "7", "--initial-noise", str(noise),
         "--reference-sampling", "--device", "cpu", "--param", "frame_sampling_rate=2"],
    )  # fmt: skip
    choice = engine_choice(args)
    assert choice.engine == "hunyuan" and choice.device == "cpu" and choice.seed == 7
    assert choice.weights_dir == weights.resolve()
    assert choice.parameters == {
        "diffusion_timesteps": 12,
        "guidance_scale": 3.5,
        "frame_sampling_rate": 2,
    }
    assert choice.engine_options == {
        "initial_noise": noise.resolve(),
        "reference_sampling": True,
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "0"], "diffusion_timesteps"),
        (["--param", "nonsense"], "KEY=VALUE"),
        (["--preset", "nope"], "unknown preset"),
        (["--initial-noise", "/no/such/file"], "--initial-noise"),
    ],
)
def test_bad_switches_are_refused_before_any_work(argv: list[str], message: str) -> None:
    args = _parse(generate, ["edit.otio", "-o", "out.otio", *argv])
    with pytest.raises(OptionError, match=message):
        engine_choice(args)


def test_serve_config_needs_a_media_root_and_paired_tls_files(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--media-root"):
        serve.build_config(_parse(serve, ["--device", "cpu"]))
    with pytest.raises(OptionError, match="go together"):
        serve.build_config(
            _parse(serve, ["--media-root", str(tmp_path), "--tls-cert", str(tmp_path / "c")])
        )
    config = serve.build_config(
        _parse(serve, ["--media-root", str(tmp_path), "--steps", "20", "--work-dir", str(tmp_path)])
    )
    assert config.host == "127.0.0.1"
    assert config.default_parameters == {"diffusion_timesteps": 20}
    assert config.media_roots == (tmp_path.resolve(),)

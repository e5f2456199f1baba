"""Built-in presets hold the deployment guide's values; user presets fail with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin_server.presets import (
    ADAPTIVE,
    AUTO_PRESET,
    BUILTIN_PRESETS,
    PresetError,
    is_auto,
    load_preset,
)

# The table, column by column (None: the guide leaves the knob unset).
GUIDE_TABLE = {
    "default": {
        "frame_sampling_rate": 4.0,
        "use_half_precision": False,
        "max_audio_duration": 60.0,
        "diffusion_timesteps": 100,
        "enable_gradient_checkpointing": False,
        "batch_size": 1,
        "cache_clear_interval": None,
    },
    "light": {
        "frame_sampling_rate": 2.0,
        "use_half_precision": True,
        "max_audio_duration": ADAPTIVE,
        "diffusion_timesteps": 50,
        "enable_gradient_checkpointing": None,
        "batch_size": 1,
        "cache_clear_interval": None,
    },
    "extreme": {
        "frame_sampling_rate": 1.0,
        "use_half_precision": True,
        "max_audio_duration": 30.0,
        "diffusion_timesteps": 25,
        "enable_gradient_checkpointing": None,
        "batch_size": 1,
        "cache_clear_interval": 5,
    },
    "reference": {
        "frame_sampling_rate": 8.0,
        "use_half_precision": True,
        "half_precision_dtype": "bfloat16",
        "max_audio_duration": ADAPTIVE,
        "diffusion_timesteps": 50,
        "guidance_scale": 4.5,
    },
}


@pytest.mark.parametrize("name", sorted(GUIDE_TABLE))
def test_builtin_preset_holds_the_guide_values(name: str) -> None:
    settings = load_preset(name).settings.to_dict()
    for key, expected in GUIDE_TABLE[name].items():
        assert settings[key] == expected, f"{name}.{key}"


def test_every_builtin_preset_is_in_the_table() -> None:
    assert set(BUILTIN_PRESETS) == set(GUIDE_TABLE)


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_preset_overrides_a_subset_of_its_base(tmp_path: Path) -> None:
    path = _write(tmp_path, "base: light\nparameters:\n  diffusion_timesteps: 30\n")
    preset = load_preset(path)
    light = load_preset("light").settings
    assert preset.settings.diffusion_timesteps == 30
    assert preset.settings.frame_sampling_rate == light.frame_sampling_rate
    assert preset.settings.use_half_precision is True
    assert preset.name == "mine"


def test_user_preset_without_base_starts_from_default(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters:\n  frame_sampling_rate: 3\n")
    settings = load_preset(path).settings
    assert settings.frame_sampling_rate == 3.0
    assert settings.diffusion_timesteps == load_preset("default").settings.diffusion_timesteps


def test_unknown_key_error_names_file_line_and_key_with_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters:\n  frame_sampling_rate: 3\n  diffusion_timestep: 20\n")
    with pytest.raises(PresetError) as raised:
        load_preset(path)
    message = str(raised.value)
    assert str(path) in message
    assert "line 3" in message
    assert "'diffusion_timestep'" in message
    assert "did you mean 'diffusion_timesteps'" in message


def test_wrong_type_error_names_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters:\n  use_half_precision: 'yes please'\n")
    with pytest.raises(PresetError, match=r"mine\.yaml line 2: use_half_precision must be true"):
        load_preset(path)


def test_out_of_range_error_names_bounds(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters:\n  diffusion_timesteps: 0\n")
    with pytest.raises(PresetError, match=r"diffusion_timesteps must be between 1 and 1000, got 0"):
        load_preset(path)


def test_fractional_step_count_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters:\n  diffusion_timesteps: 12.5\n")
    with pytest.raises(PresetError, match="diffusion_timesteps must be a whole number"):
        load_preset(path)


def test_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters:\n  batch_size: 1\n  batch_size: 2\n")
    with pytest.raises(PresetError, match=r"'batch_size' appears twice \(first on line 2\)"):
        load_preset(path)


def test_parameter_at_top_level_is_pointed_under_parameters(tmp_path: Path) -> None:
    path = _write(tmp_path, "diffusion_timesteps: 20\n")
    with pytest.raises(PresetError, match="put it under 'parameters:'"):
        load_preset(path)


def test_unknown_base_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "base: heavy\nparameters: {}\n")
    with pytest.raises(PresetError, match="base 'heavy' is not a built-in preset"):
        load_preset(path)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters: [unclosed\n")
    with pytest.raises(PresetError, match=r"mine\.yaml: not valid YAML"):
        load_preset(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match="does not exist"):
        load_preset(tmp_path / "absent.yaml")


def test_auto_is_recognised_but_not_loadable() -> None:
    assert is_auto(AUTO_PRESET)
    assert not is_auto("default")
    with pytest.raises(PresetError, match="choose_preset"):
        load_preset(AUTO_PRESET)

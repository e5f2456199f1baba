"""Find and load presets: the built-in YAML files beside this module, or a user's YAML file.

A user preset names a `base` preset (default: `default`) and overrides any subset of its
`parameters`. Everything is validated here, once, into a `Preset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from plugin_server.presets.settings import GenerationSettings, PresetError, settings_from_mapping

PRESET_DIR = Path(__file__).resolve().parent
BUILTIN_PRESETS = ("default", "light", "extreme", "reference")
_TOP_LEVEL_KEYS = {"name", "description", "base", "parameters"}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    settings: GenerationSettings
    source: str


def builtin_preset_names() -> tuple[str, ...]:
    return BUILTIN_PRESETS


def load_preset(name_or_path: str | Path) -> Preset:
    """Load a built-in preset by name, or a user preset from a YAML file path."""
    text = str(name_or_path)
    if text in BUILTIN_PRESETS:
        return _load_file(PRESET_DIR / f"{text}.yaml", allow_base=False)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise PresetError(f"preset file {path} does not exist")
        return _load_file(path, allow_base=True)
    raise PresetError(
        f"unknown preset {text!r}: use one of {', '.join(BUILTIN_PRESETS)}, 'auto', "
        "or the path of a .yaml preset file"
    )


def _load_file(path: Path, *, allow_base: bool) -> Preset:
    source = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PresetError(f"{source}: not valid YAML ({error})") from error
    except OSError as error:
        raise PresetError(f"{source}: cannot be read ({error.strerror})") from error
    if not isinstance(document, dict):
        raise PresetError(f"{source}: a preset file must be a mapping with 'parameters'")
    unknown = set(document) - _TOP_LEVEL_KEYS
    if unknown:
        raise PresetError(
            f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(_TOP_LEVEL_KEYS))}"
        )
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise PresetError(f"{source}: 'parameters' must be a mapping")
    name = str(document.get("name") or path.stem)
    description = str(document.get("description") or "")
    if allow_base:
        base_name = str(document.get("base") or "default")
        if base_name not in BUILTIN_PRESETS:
            raise PresetError(
                f"{source}: base {base_name!r} is not a built-in preset "
                f"({', '.join(BUILTIN_PRESETS)})"
            )
        base = load_preset(base_name)
        settings = base.settings.with_overrides(parameters, source)
    else:
        if "base" in document:
            raise PresetError(f"{source}: built-in presets take no 'base'")
        settings = settings_from_mapping(parameters, source)
    return Preset(name=name, description=description, settings=settings, source=source)

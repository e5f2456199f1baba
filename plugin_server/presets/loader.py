"""Find and load presets: the built-in YAML files beside this module, or a user's YAML file.

A user preset names a `base` preset (default: `default`) and overrides any subset of its
`parameters`. Everything is validated here, once, into a `Preset`; errors name the file, the
line and the key. The name `auto` is not a file: it is resolved per clip by
`plugin_server.planning.auto.choose_preset`, from the device and the clip's length.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from plugin_server.presets.settings import (
    GenerationSettings,
    PresetError,
    parameter_names,
    settings_from_mapping,
)

PRESET_DIR = Path(__file__).resolve().parent
BUILTIN_PRESETS = ("default", "light", "extreme", "reference")
AUTO_PRESET = "auto"
_TOP_LEVEL_KEYS = ("name", "description", "base", "parameters")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    settings: GenerationSettings
    source: str


def builtin_preset_names() -> tuple[str, ...]:
    return BUILTIN_PRESETS


def is_auto(name_or_path: str | Path) -> bool:
    """True for the preset name `auto`, which is chosen per clip rather than loaded."""
    return str(name_or_path) == AUTO_PRESET


def load_preset(name_or_path: str | Path) -> Preset:
    """Load a built-in preset by name, or a user preset from a YAML file path."""
    text = str(name_or_path)
    if text in BUILTIN_PRESETS:
        return _builtin(text)
    if is_auto(text):
        raise PresetError(
            "preset 'auto' is chosen per clip from the device and the clip's length; resolve it "
            "with plugin_server.planning.auto.choose_preset() instead of loading it"
        )
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise PresetError(f"preset file {path} does not exist")
        return _load_file(path, allow_base=True)
    raise PresetError(
        f"unknown preset {text!r}: use one of {', '.join(BUILTIN_PRESETS)}, {AUTO_PRESET!r}, "
        "or the path of a .yaml preset file"
    )


@cache
def _builtin(name: str) -> Preset:
    # Built-in files ship with the code and never change while it runs: read each once.
    return _load_file(PRESET_DIR / f"{name}.yaml", allow_base=False)


def _load_file(path: Path, *, allow_base: bool) -> Preset:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PresetError(f"{source}: cannot be read as UTF-8 text ({error})") from error
    document, lines = _parse(text, source)
    if not isinstance(document, dict):
        raise PresetError(f"{source}: a preset file must be a mapping with 'parameters'")
    _check_top_level(document, source)
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise PresetError(f"{source}: 'parameters' must be a mapping of parameter names to values")
    name = _text_field(document, "name", source) or path.stem
    description = _text_field(document, "description", source)
    if allow_base:
        base_name = _text_field(document, "base", source) or "default"
        if base_name not in BUILTIN_PRESETS:
            raise PresetError(
                f"{source}: base {base_name!r} is not a built-in preset "
                f"({', '.join(BUILTIN_PRESETS)})"
            )
        base = load_preset(base_name)
        settings = base.settings.with_overrides(parameters, source, lines)
    else:
        if "base" in document:
            raise PresetError(f"{source}: built-in presets take no 'base'")
        settings = settings_from_mapping(parameters, source, lines)
    return Preset(name=name, description=description, settings=settings, source=source)


def _check_top_level(document: dict[Any, Any], source: str) -> None:
    for key in document:
        if key in _TOP_LEVEL_KEYS:
            continue
        if key in parameter_names():
            raise PresetError(
                f"{source}: {key!r} is a parameter: put it under 'parameters:' "
                f"(top-level keys are {', '.join(_TOP_LEVEL_KEYS)})"
            )
        raise PresetError(
            f"{source}: unknown top-level key {key!r}{_did_you_mean(key, _TOP_LEVEL_KEYS)}; "
            f"allowed: {', '.join(_TOP_LEVEL_KEYS)}"
        )


def _text_field(document: dict[Any, Any], key: str, source: str) -> str:
    value = document.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PresetError(f"{source}: {key} must be text, got {value!r}")
    return value


def _did_you_mean(key: object, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which plain YAML silently resolves to the last."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise PresetError(
                f"line {key_node.start_mark.line + 1}: key {key!r} appears twice "
                f"(first on line {seen[key]}); keep one"
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML; return the document and the 1-based line of each key under `parameters`."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except PresetError as error:
        raise PresetError(f"{source}: {error}") from error
    except yaml.YAMLError as error:
        raise PresetError(f"{source}: not valid YAML ({error})") from error
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == "parameters" and isinstance(value_node, yaml.MappingNode):
                for parameter_node, _ in value_node.value:
                    lines[str(parameter_node.value)] = parameter_node.start_mark.line + 1
    return document, lines

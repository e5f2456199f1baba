"""Presets: YAML files validated into typed generation settings."""

from plugin_server.presets.loader import BUILTIN_PRESETS, Preset, builtin_preset_names, load_preset
from plugin_server.presets.settings import ADAPTIVE, GenerationSettings, PresetError

__all__ = [
    "ADAPTIVE",
    "BUILTIN_PRESETS",
    "GenerationSettings",
    "Preset",
    "PresetError",
    "builtin_preset_names",
    "load_preset",
]

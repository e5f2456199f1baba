"""Presets: YAML files validated into typed generation settings."""

from plugin_server.presets.loader import (
    AUTO_PRESET,
    BUILTIN_PRESETS,
    Preset,
    builtin_preset_names,
    is_auto,
    load_preset,
)
from plugin_server.presets.settings import (
    ADAPTIVE,
    GenerationSettings,
    PresetError,
    parameter_names,
)

__all__ = [
    "ADAPTIVE",
    "AUTO_PRESET",
    "BUILTIN_PRESETS",
    "GenerationSettings",
    "Preset",
    "PresetError",
    "builtin_preset_names",
    "is_auto",
    "load_preset",
    "parameter_names",
]

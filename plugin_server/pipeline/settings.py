"""Generation settings per clip: the preset, or `auto`'s per-clip choice, with overrides on top.

Overrides are applied in order: the deployment's defaults (`serve --steps 30`), then the
request's own parameters. `auto` asks the memory planner for the best-quality preset that fits
the engine's device for each clip's length; the procedural engine ignores the model's memory
knobs, so for it `auto` is simply the default preset.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from plugin_server.engines.base import EngineInfo
from plugin_server.pipeline.errors import InvalidRequest
from plugin_server.planning.auto import choose_preset
from plugin_server.planning.device import probe_device
from plugin_server.planning.model_dims import dims_for_model_name
from plugin_server.presets import PresetError, is_auto, load_preset
from plugin_server.presets.settings import GenerationSettings

log = logging.getLogger(__name__)

AUTO_FALLBACK_PRESET = "default"


class SettingsResolver:
    """Validates a preset and its overrides once; then answers per clip."""

    def __init__(
        self,
        preset: str,
        overrides: tuple[tuple[str, Mapping[str, Any]], ...],
        engine: EngineInfo,
    ) -> None:
        """`overrides` are (source name, parameters) pairs applied in order; raises
        InvalidRequest naming the preset or parameter."""
        self.preset = preset
        self._overrides = overrides
        self._engine = engine
        self._auto = is_auto(preset) and engine.name != "procedural"
        self.plan_settings = self._with_overrides(
            AUTO_FALLBACK_PRESET if is_auto(preset) else preset
        )

    def for_clip(self, duration_s: float) -> tuple[str, GenerationSettings]:
        """(preset name actually used, settings) for a clip of `duration_s` record seconds."""
        if not self._auto:
            return (
                AUTO_FALLBACK_PRESET if is_auto(self.preset) else self.preset
            ), self.plan_settings
        dims = dims_for_model_name(self._engine.model)
        choice = choose_preset(duration_s, dims, probe_device(self._engine.device))
        log.info("auto preset for a %.2f s clip: %s", duration_s, choice.reason)
        return choice.preset, self._apply(choice.settings, choice.preset)

    def _with_overrides(self, preset: str) -> GenerationSettings:
        try:
            settings = load_preset(preset).settings
        except PresetError as error:
            raise InvalidRequest(str(error)) from error
        return self._apply(settings, preset)

    def _apply(self, settings: GenerationSettings, preset: str) -> GenerationSettings:
        for source, parameters in self._overrides:
            if parameters:
                try:
                    settings = settings.with_overrides(dict(parameters), source)
                except PresetError as error:
                    raise InvalidRequest(f"{error} (over preset {preset!r})") from error
        return settings

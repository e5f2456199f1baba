"""The engines of one deployment: made per device on demand, described once per name."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from plugin_server.engines.base import Engine, EngineInfo
from plugin_server.engines.registry import EngineConfig

EngineFactory = Callable[[str, EngineConfig], Engine]
"""(engine name, config) -> a new engine; `plugin_server.engines.registry.create_engine`."""


class EngineSet:
    """Thread-safe. `make` gives each worker its own instance; `info` is probed once per name
    (on the first device) and remembered: weights and devices do not change while running."""

    def __init__(self, factory: EngineFactory, config: EngineConfig, devices: list[str]) -> None:
        self._factory = factory
        self._config = config
        self._first_device = devices[0]
        self._infos: dict[str, EngineInfo] = {}
        self._lock = threading.Lock()

    def make(self, name: str, device: str) -> Engine:
        """A new engine `name` bound to `device`; raises ValueError for an unknown name and
        EngineUnavailable when it cannot be loaded."""
        return self._factory(name, replace(self._config, device=device))

    def info(self, name: str) -> EngineInfo:
        with self._lock:
            if name not in self._infos:
                self._infos[name] = self.make(name, self._first_device).info()
            return self._infos[name]

    @property
    def options(self) -> dict[str, object]:
        return dict(self._config.options)

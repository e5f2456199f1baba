"""The library engine's options (`EngineConfig.options`), validated once into a frozen record.

Keys, all prefixed "library_" (other engines' keys are ignored; an unknown "library_*" key is
an error):
- `library_dirs` (paths): the sound-effects libraries drawn from, in order. Required for the
  engine to be available; the command line (`--library DIR`) checks they lie under a media root.
- `library_index` (path): the SQLite index file (default
  `$XDG_CACHE_HOME/foley-server/library/index.sqlite`; the commands put it under the work dir).
- `library_gain_variation_db` (0..12, default 1.5): each one-shot's gain varies by up to this
  many dB either way, seeded.
- `library_pitch_variation` (semitones 0..12, default 0 = off): each one-shot is resampled up
  or down by up to this many semitones, seeded.
- `library_max_file_mb` (default 2048): larger files are skipped as "huge".
- `library_clap` (path, default none): a two-tower CLAP checkpoint folder (or a hunyuan weights
  folder holding one in `clap/`); when set, one-shot candidates are ranked by CLAP
  text-to-audio similarity (clap.py) instead of FTS5 alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_server.engines.base import EngineError

OPTION_PREFIX = "library_"
DIRS_OPTION = "library_dirs"
INDEX_OPTION = "library_index"
CLAP_OPTION = "library_clap"
_KNOWN = (
    DIRS_OPTION,
    INDEX_OPTION,
    CLAP_OPTION,
    "library_gain_variation_db",
    "library_pitch_variation",
    "library_max_file_mb",
)


class LibraryOptionError(EngineError):
    """A library engine option is unknown or has a value of the wrong kind."""


def default_index_path() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "foley-server" / "library" / "index.sqlite"


@dataclass(frozen=True)
class LibraryOptions:
    dirs: tuple[Path, ...] = ()
    index_path: Path | None = None
    gain_variation_db: float = 1.5
    pitch_variation: float = 0.0
    max_file_bytes: int = 2048 << 20
    clap_dir: Path | None = None

    @property
    def index(self) -> Path:
        return self.index_path or default_index_path()

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> LibraryOptions:
        unknown = sorted(k for k in options if k.startswith(OPTION_PREFIX) and k not in _KNOWN)
        if unknown:
            raise LibraryOptionError(
                f"unknown library engine option(s) {', '.join(unknown)}; known: {', '.join(_KNOWN)}"
            )
        dirs = options.get(DIRS_OPTION, ())
        if isinstance(dirs, str | Path):
            dirs = (dirs,)
        if not isinstance(dirs, Sequence) or not all(isinstance(d, str | Path) for d in dirs):
            raise LibraryOptionError(f"{DIRS_OPTION} must be a list of folders, got {dirs!r}")
        index = options.get(INDEX_OPTION)
        if index is not None and not isinstance(index, str | Path):
            raise LibraryOptionError(f"{INDEX_OPTION} must be a file path, got {index!r}")
        clap = options.get(CLAP_OPTION)
        if clap is not None and not isinstance(clap, str | Path):
            raise LibraryOptionError(f"{CLAP_OPTION} must be a folder path, got {clap!r}")
        max_mb = _number(options, "library_max_file_mb", 2048, 0.001, 1 << 30)
        return cls(
            dirs=tuple(dict.fromkeys(Path(d).resolve() for d in dirs)),
            index_path=Path(index).resolve() if index is not None else None,
            gain_variation_db=_number(options, "library_gain_variation_db", 1.5, 0, 12),
            pitch_variation=_number(options, "library_pitch_variation", 0.0, 0, 12),
            max_file_bytes=int(max_mb * (1 << 20)),
            clap_dir=Path(clap).resolve() if clap is not None else None,
        )


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise LibraryOptionError(f"{key} must be a number in {low}..{high}, got {value!r}")
    return float(value)

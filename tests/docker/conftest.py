"""Fixtures for the image family's tests.

Tests marked `docker` need a Docker engine. When none answers but `dockerd` is installed and we
are root (CI after .ci/run's apt install), the engine is started here with
images/start-dockerd.sh; only where no engine can run at all are those tests skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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

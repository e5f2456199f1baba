"""images/compose.yaml describes the documented multi-preset deployment (read as data: this
machine kind has no Compose to run it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"
PRESETS = ("default", "light", "extreme")
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def expand_defaults(text: str) -> str:
    """`${NAME:-default}` -> default, as Compose does with NAME unset."""
    return _DEFAULTED.sub(lambda match: match.group(2), text)


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load(expand_defaults((IMAGES_DIR / name).read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return load("compose.yaml")["services"]


def test_one_service_per_preset_with_the_build_tags(services: dict[str, Any]) -> None:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    assert set(services) == set(PRESETS)
    for preset, service in services.items():
        assert service["image"] == f"foley:{version}-{preset}-cpu"


def test_each_service_has_its_own_host_ports_onto_grpc_and_metrics(
    services: dict[str, Any],
) -> None:
    host_ports: list[str] = []
    for service in services.values():
        mappings = [str(port).split(":") for port in service["ports"]]
        assert sorted(container for _, container in mappings) == ["50051", "9464"]
        host_ports.extend(host for host, _ in mappings)
    assert len(host_ports) == len(set(host_ports)) == 2 * len(PRESETS)


def test_media_is_read_only_output_shared_and_cache_per_service(
    services: dict[str, Any],
) -> None:
    caches = set()
    for service in services.values():
        mounts = {volume.split(":")[1]: volume for volume in service["volumes"]}
        assert mounts["/media"].endswith(":ro")
        assert not mounts["/out"].endswith(":ro")
        caches.add(mounts["/var/lib/foley"].split(":")[0])
        assert service["restart"] == "unless-stopped"
    assert len(caches) == len(PRESETS)
    assert caches <= set(load("compose.yaml")["volumes"])


def test_gpu_override_reserves_nvidia_gpus_for_every_preset() -> None:
    gpu = load("compose.gpu.yaml")["services"]
    assert set(gpu) == set(PRESETS)
    for service in gpu.values():
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia"
        assert device["capabilities"] == ["gpu"]

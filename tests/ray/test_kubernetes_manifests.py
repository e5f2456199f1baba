"""The Kubernetes manifests (deploy/kubernetes): what the server needs from its pods holds in
every one of them. Plain YAML checks; no cluster is needed."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
SHARED_MOUNTS = {"/media": "foley-media", "/out": "foley-out", "/var/lib/foley": "foley-work"}
GRPC_PORT = 50051


def _documents(variant: str) -> list[dict[str, Any]]:
    """Every object the kustomization of `variant` lists, following directory references."""
    folder = DEPLOY / variant
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    documents: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = (folder / resource).resolve()
        if path.is_dir():
            documents += _documents(str(path.relative_to(DEPLOY)))
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return documents


def _of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]


def _pod_specs(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    specs = [d["spec"]["template"]["spec"] for d in _of_kind(documents, "Deployment")]
    for cluster in _of_kind(documents, "RayCluster"):
        specs += [group["template"]["spec"] for group in cluster["spec"]["workerGroupSpecs"]]
    return specs


def _grpc_containers(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        container
        for deployment in _of_kind(documents, "Deployment")
        for container in deployment["spec"]["template"]["spec"]["containers"]
        if any(port["containerPort"] == GRPC_PORT for port in container.get("ports", []))
    ]


@pytest.mark.parametrize("variant", ["ray", "standalone"])
def test_servers_have_native_grpc_probes(variant: str) -> None:
    containers = _grpc_containers(_documents(variant))
    assert containers
    for container in containers:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": GRPC_PORT}, (container["name"], probe)


@pytest.mark.parametrize("variant", ["ray", "standalone"])
def test_services_are_grpc_aware(variant: str) -> None:
    services = _of_kind(_documents(variant), "Service")
    assert services
    for service in services:
        (grpc,) = [port for port in service["spec"]["ports"] if port["name"] == "grpc"]
        assert (grpc["port"], grpc["appProtocol"]) == (GRPC_PORT, "grpc")


@pytest.mark.parametrize("variant", ["ray", "standalone"])
def test_every_pod_mounts_the_shared_storage_at_the_same_paths(variant: str) -> None:
    documents = _documents(variant)
    claims = {claim["metadata"]["name"] for claim in _of_kind(documents, "PersistentVolumeClaim")}
    for spec in _pod_specs(documents):
        volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]}
        for container in spec["containers"]:
            mounted = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert mounted == SHARED_MOUNTS, container["name"]
    assert set(SHARED_MOUNTS.values()) <= claims


def test_the_ray_front_end_serves_through_the_ray_executor_on_shared_storage() -> None:
    documents = _documents("ray")
    (container,) = _grpc_containers(documents)
    command = " ".join(container["args"])
    assert "--executor ray --ray-address auto --ray-results shared-storage" in command
    assert "--num-cpus=0 --num-gpus=0" in command  # no actor may land on the front end
    (cluster,) = _of_kind(documents, "RayCluster")
    head_address = next(e["value"] for e in container["env"] if e["name"] == "RAY_HEAD_ADDRESS")
    assert head_address == f"{cluster['metadata']['name']}-head-svc:6379"
    token = next(e for e in container["env"] if e["name"] == "RAY_AUTH_TOKEN")
    secret = cluster["spec"]["authOptions"]["secretName"]
    assert token["valueFrom"]["secretKeyRef"]["name"] == secret


def test_ray_workers_offer_one_gpu_each_and_the_head_none() -> None:
    (cluster,) = _of_kind(_documents("ray"), "RayCluster")
    head = cluster["spec"]["headGroupSpec"]["rayStartParams"]
    assert (head["num-cpus"], head["num-gpus"]) == ("0", "0")
    for group in cluster["spec"]["workerGroupSpecs"]:
        (container,) = group["template"]["spec"]["containers"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_the_ray_cluster_runs_the_installed_ray_version() -> None:
    try:
        installed = importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("ray is not installed: pip install 'foley-backend[ray]'")
    (cluster,) = _of_kind(_documents("ray"), "RayCluster")
    assert cluster["spec"]["rayVersion"] == installed

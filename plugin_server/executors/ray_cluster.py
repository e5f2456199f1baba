"""Joining a Ray cluster (or starting a local one) and deciding which actors to run on it."""

from __future__ import annotations

import logging
import socket

from plugin_server.executors.base import ExecutorUnavailable, RaySettings
from plugin_server.executors.ray_group import ActorKind

log = logging.getLogger(__name__)

# Ray itself keeps retrying an address nobody answers on for minutes; a head node that is up
# accepts a connection in milliseconds.
_CONNECT_TIMEOUT_S = 10.0


def join_cluster(settings: RaySettings) -> bool:
    """Connect this process to Ray; True when it called ray.init and so must shut Ray down.

    A process that already joined a cluster (a test session, an embedding application) keeps
    it, whatever `settings.address` says.
    """
    import ray

    if ray.is_initialized():
        log.info("using the Ray cluster this process already joined")
        return False
    where = settings.address or "a new local cluster (or $RAY_ADDRESS)"
    if settings.address is not None:
        _check_reachable(settings.address)
    try:
        if settings.address is None:
            ray.init(
                num_cpus=settings.local_cpus,
                object_store_memory=settings.object_store_bytes,
                include_dashboard=False,
            )
        else:
            ray.init(address=settings.address)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ExecutorUnavailable(
            f"cannot join the Ray cluster at {where}: {error}; check --ray-address and that the "
            "cluster's head node is up"
        ) from error
    log.info("joined Ray at %s: %s", where, ray.cluster_resources())
    return True


def _check_reachable(address: str) -> None:
    """Fail fast when nothing listens at a HOST:PORT (or ray://HOST:PORT) address; other forms
    ("auto") are Ray's to resolve."""
    host, separator, port = address.removeprefix("ray://").rpartition(":")
    if not separator or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise ExecutorUnavailable(
            f"cannot reach the Ray cluster at {address}: {error.strerror or error}; check "
            "--ray-address and that the cluster's head node is up"
        ) from error


def choose_actors(settings: RaySettings, device: str) -> ActorKind:
    """One actor per GPU of the cluster, else CPU actors, for `device` (auto, cpu, cuda[:N]).

    Raises ExecutorUnavailable when a GPU is required and the cluster has none.
    """
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 0))
    if device == "cpu":
        use_gpus = False
    elif device == "auto":
        use_gpus = gpus > 0
    elif device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if gpus == 0:
            raise ExecutorUnavailable(
                f"--device {device}: the Ray cluster has no GPU; add GPU nodes or use --device cpu"
            )
        use_gpus = True  # every GPU actor sees its own GPU as cuda:0
    else:
        raise ExecutorUnavailable(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    if use_gpus:
        return ActorKind(count=settings.actors or gpus, gpus=1, device="cuda:0")
    return ActorKind(count=settings.actors or max(1, cpus // 2), gpus=0, device="cpu")

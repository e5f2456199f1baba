"""Command-line options for choosing the executor, shared by `serve` and `generate`."""

from __future__ import annotations

import argparse

from plugin_server.commands._options import OptionError
from plugin_server.executors.base import (
    EXECUTOR_KINDS,
    RESULT_TRANSPORTS,
    ExecutorSettings,
    RaySettings,
)

_RAY_OPTIONS = {
    "ray_address": "--ray-address",
    "ray_actors": "--ray-actors",
    "ray_results": "--ray-results",
    "ray_retries": "--ray-retries",
}


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("executor (where clips run; see docs/ray.md)")
    group.add_argument(
        "--executor",
        choices=EXECUTOR_KINDS,
        default="local",
        help="local: one worker per device of this machine (default); ray: Ray actors, one per "
        "GPU of the cluster (CPU actors where there is none)",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to join: HOST:6379, ray://HOST:10001 or auto (default: $RAY_ADDRESS, "
        "else start a local cluster)",
    )
    group.add_argument(
        "--ray-actors",
        type=int,
        metavar="N",
        help="actors to start (default: one per GPU of the cluster, else half its CPUs)",
    )
    group.add_argument(
        "--ray-results",
        choices=RESULT_TRANSPORTS,
        help="object-store: audio comes back to this process, which writes the files "
        "(default); shared-storage: actors write the files and cache themselves, on storage "
        "mounted at the same path everywhere",
    )
    group.add_argument(
        "--ray-retries",
        type=int,
        metavar="N",
        help="retries on another actor when an actor or node dies mid-clip (default 2)",
    )


def executor_settings(args: argparse.Namespace) -> ExecutorSettings:
    """Validated ExecutorSettings from `args`; raises OptionError naming the option."""
    given = [flag for name, flag in _RAY_OPTIONS.items() if getattr(args, name) is not None]
    if args.executor != "ray":
        if given:
            raise OptionError(f"{', '.join(given)} only apply with --executor ray")
        return ExecutorSettings()
    defaults = RaySettings()
    try:
        return ExecutorSettings(
            kind="ray",
            ray=RaySettings(
                address=args.ray_address,
                actors=args.ray_actors,
                results=args.ray_results or defaults.results,
                max_retries=defaults.max_retries if args.ray_retries is None else args.ray_retries,
            ),
        )
    except ValueError as error:
        raise OptionError(f"--executor ray: {error}") from error

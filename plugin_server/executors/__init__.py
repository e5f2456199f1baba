"""Executors: what runs a job's clips.

`local` is the in-process worker pool, one worker per local device (the default). `ray` fans the
clips out to Ray actors across a cluster, one per GPU, or CPU actors where there is none. The
pipeline sees only the `Executor` interface (base.py); `create_executor` (factory.py) builds the
one ExecutorSettings name. Ray is imported only when the ray executor is built. See docs/ray.md.
"""

from plugin_server.executors.base import (
    Executor,
    ExecutorSettings,
    ExecutorUnavailable,
    RaySettings,
    ResultTransport,
)
from plugin_server.executors.factory import create_executor

__all__ = [
    "Executor",
    "ExecutorSettings",
    "ExecutorUnavailable",
    "RaySettings",
    "ResultTransport",
    "create_executor",
]

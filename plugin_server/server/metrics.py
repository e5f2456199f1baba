"""Prometheus metrics, served over HTTP on their own port (never on the gRPC port).

Each server owns its own registry, so several servers in one process (tests) do not collide.
Device memory is read at scrape time: CUDA free/total per GPU, or for the CPU the process's
resident memory and the host's available memory.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Clip latency spans cache hits (milliseconds) to long model clips on a CPU (many minutes).
_CLIP_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class ServerMetrics:
    def __init__(self, devices: Sequence[str]) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.queue_depth = Gauge(
            "foley_queue_depth", "Clips waiting for a worker", registry=registry
        )
        self.workers_busy = Gauge(
            "foley_workers_busy", "Workers generating a clip now", registry=registry
        )
        self.workers = Gauge("foley_workers", "Workers in the pool", registry=registry)
        self.workers.set(len(devices))
        self.jobs_in_flight = Gauge(
            "foley_jobs_in_flight", "Jobs admitted and not yet finished", registry=registry
        )
        self.jobs = Counter(
            "foley_jobs",
            "Jobs by outcome (completed, cancelled, deadline_exceeded, failed, rejected)",
            ["outcome"],
            registry=registry,
        )
        self.clips = Counter(
            "foley_clips",
            "Clips by result (generated, cached, failed, skipped, cancelled)",
            ["result"],
            registry=registry,
        )
        self.clip_seconds = Histogram(
            "foley_clip_seconds",
            "Wall time per finished clip, cache look-up to file written",
            ["engine"],
            buckets=_CLIP_SECONDS_BUCKETS,
            registry=registry,
        )
        self.cache_hits = Counter(
            "foley_cache_hits", "Clips served from the cache", registry=registry
        )
        self.cache_misses = Counter(
            "foley_cache_misses", "Clips generated because the cache had none", registry=registry
        )
        # The HTTP transport's calls (gRPC calls are not counted here); its jobs are counted in
        # foley_jobs like any other, since they run through the same service.
        self.http_requests = Counter(
            "foley_http_requests",
            "HTTP calls (Connect, gRPC-Web) and file downloads by method, protocol and code",
            ["method", "protocol", "code"],
            registry=registry,
        )
        registry.register(DeviceMemoryCollector(devices))

    def serve(self, host: str, port: int) -> tuple[Any, int]:
        """Start the HTTP endpoint; returns (server, bound port). `port` 0 picks a free one."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server, int(server.server_port)


class DeviceMemoryCollector(Collector):
    """foley_device_memory_bytes{device, kind} with kind in used, free, total."""

    def __init__(self, devices: Sequence[str]) -> None:
        self._devices = tuple(dict.fromkeys(devices))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "foley_device_memory_bytes",
            "Device memory: CUDA per GPU; for the CPU, process resident (used) and host memory",
            labels=["device", "kind"],
        )
        for device in self._devices:
            for kind, value in _device_memory(device).items():
                family.add_metric([device, kind], value)
        yield family


def _device_memory(device: str) -> dict[str, float]:
    if device.startswith("cuda"):
        torch = sys.modules.get("torch")  # a CUDA slot exists only once torch was imported
        if torch is None:
            return {}
        index = int(device.partition(":")[2] or 0)
        free, total = torch.cuda.mem_get_info(index)
        return {"used": float(total - free), "free": float(free), "total": float(total)}
    memory: dict[str, float] = {}
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        memory["used"] = float(resident_pages * os.sysconf("SC_PAGE_SIZE"))
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        memory["free"] = float(int(fields["MemAvailable"].split()[0]) * 1024)
        memory["total"] = float(int(fields["MemTotal"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError, IndexError) as error:
        log.debug("host memory unavailable for metrics (%s)", error)
    return memory

"""Everything a server deployment is configured with, validated once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_server.executors.base import ExecutorSettings
from plugin_server.pipeline.timeline_reader import DEFAULT_MAX_PARSE_BYTES, DEFAULT_PARSE_TIMEOUT_S

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
AUDIO_CHUNK_BYTES = 1 << 20
# A browser's Origin header: scheme://host[:port], no path (RFC 6454); "null" for opaque ones.
_ORIGIN = re.compile(r"(?:[a-z][a-z0-9+.-]*://[^/\s?#]+|null)", re.IGNORECASE)


@dataclass(frozen=True)
class TlsConfig:
    """PEM files. With `client_ca` set, clients must present a certificate it signed (mTLS)."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


@dataclass(frozen=True)
class ServerConfig:
    """A server deployment.

    `media_roots`: the only folders media and timelines are read from (also searched for media
    by base name). `output_root`: the only folder audio and result timelines are written to on
    request; None refuses output-root delivery. `work_dir` holds the result cache and the
    temporary audio of inline deliveries. `workers`: None means one per GPU, else one per CPU.
    `port` 0 picks a free port. `metrics_port` None disables the Prometheus endpoint.
    `http_port`: also serve the service over Connect and gRPC-Web (plugin_server.server.http) on
    this port of the same host, with the same token, TLS and limits; None: gRPC only.
    `cors_origins`: browser origins (`https://panel.example`, or `*`) allowed to call it.
    `default_parameters` apply over every preset, before a request's own parameters.
    """

    media_roots: tuple[Path, ...]
    work_dir: Path
    output_root: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    engine: str = "procedural"
    preset: str = "default"
    device: str = "auto"
    weights_dir: Path | None = None
    engine_options: dict[str, Any] = field(default_factory=dict)
    default_parameters: dict[str, Any] = field(default_factory=dict)
    default_seed: int = 0
    media_maps: tuple[tuple[str, str], ...] = ()
    workers: int | None = None
    max_jobs: int = 16
    max_clips_per_job: int = 2_000
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    cache_max_bytes: int | None = None
    auth_token: str | None = None
    tls: TlsConfig | None = None
    metrics_port: int | None = None
    metrics_host: str = DEFAULT_HOST
    http_port: int | None = None
    cors_origins: tuple[str, ...] = ()
    shutdown_grace_s: float = 30.0
    # Where clips run: the local worker pool (default) or Ray actors (docs/ray.md).
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    # The budget of parsing one client timeline (plugin_server/pipeline/timeline_reader.py).
    max_parse_bytes: int = DEFAULT_MAX_PARSE_BYTES
    parse_timeout_s: float = DEFAULT_PARSE_TIMEOUT_S
    # Concurrent RPCs; beyond it RESOURCE_EXHAUSTED with retry-after-ms. None: 2*max_jobs + 16.
    max_concurrent_rpcs: int | None = None

    @property
    def rpc_limit(self) -> int:
        return self.max_concurrent_rpcs or 2 * self.max_jobs + 16

    def __post_init__(self) -> None:
        if not self.media_roots:
            raise ValueError("at least one media root is needed (--media-root DIR)")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.max_jobs < 1:
            raise ValueError(f"max jobs must be at least 1, got {self.max_jobs}")
        if self.max_message_bytes < AUDIO_CHUNK_BYTES + (64 << 10):
            raise ValueError(
                f"max message size must be at least {AUDIO_CHUNK_BYTES + (64 << 10)} bytes so "
                "that one audio chunk fits"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics port must be between 0 and 65535, got {self.metrics_port}")
        if self.max_concurrent_rpcs is not None and self.max_concurrent_rpcs < 1:
            raise ValueError(
                f"max concurrent RPCs must be at least 1, got {self.max_concurrent_rpcs}"
            )
        if self.auth_token is not None and len(self.auth_token) < 16:
            raise ValueError("the auth token must be at least 16 characters long")
        for library in self.engine_options.get("library_dirs", ()):
            # The library engine reads these folders: like media, only under the media roots.
            resolved = Path(library).resolve()
            if not any(resolved.is_relative_to(root.resolve()) for root in self.media_roots):
                raise ValueError(
                    f"library folder {library} is outside every media root; add a media root "
                    "that holds it (--media-root DIR)"
                )
        for origin in self.cors_origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"CORS origin {origin!r} is not an origin: write scheme://host[:port] "
                    "without a path (e.g. https://panel.example:8443), or '*'"
                )

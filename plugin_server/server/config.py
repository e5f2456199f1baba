"""Everything a server deployment is configured with, validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_server.executors.base import ExecutorSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
AUDIO_CHUNK_BYTES = 1 << 20


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
    shutdown_grace_s: float = 30.0
    # Where clips run: the local worker pool (default) or Ray actors (docs/ray.md).
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)

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
        if self.auth_token is not None and len(self.auth_token) < 16:
            raise ValueError("the auth token must be at least 16 characters long")

"""A running server: gRPC (service, health, reflection) plus the metrics endpoint, optionally the
same service over Connect and gRPC-Web (`http_port`, plugin_server.server.http), and its graceful
shutdown.

Shutdown (SIGTERM, or stop()): health turns NOT_SERVING and new jobs are refused with
UNAVAILABLE; jobs in flight get `shutdown_grace_s` to finish; jobs still running then are
cancelled, which stops them between stages and reports their remaining clips as cancelled.
Every file is written atomically, so nothing half-written remains.
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from plugin_server.pipeline.engine_set import EngineFactory
from plugin_server.planning.fallback import with_oom_fallback
from plugin_server.proto_gen.foley.v1 import foley_pb2, foley_pb2_grpc
from plugin_server.server.config import ServerConfig
from plugin_server.server.rpc_limit import SPARE_THREADS, ConcurrencyLimit, RpcSlots
from plugin_server.server.security.auth import BearerTokenInterceptor
from plugin_server.server.security.tls import server_credentials
from plugin_server.server.service import FoleyService
from plugin_server.server.servicer import FoleyServicer

if TYPE_CHECKING:
    from plugin_server.server.http.transport import HttpTransport

log = logging.getLogger(__name__)

SERVICE_NAME = foley_pb2.DESCRIPTOR.services_by_name["FoleyService"].full_name
# Time for streams to deliver their last messages after their jobs were cancelled.
_CANCEL_SETTLE_S = 10.0


class FoleyServer:
    """Start with start(); stop with stop() (idempotent). `port` is the bound gRPC port."""

    def __init__(
        self, config: ServerConfig, engine_factory: EngineFactory = with_oom_fallback
    ) -> None:
        self.config = config
        self.service = FoleyService(config, engine_factory)
        self.port = 0
        self.metrics_port: int | None = None
        self._metrics_http = None
        self._health = health.HealthServicer(experimental_non_blocking=True)
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._grpc = self._build_grpc_server()
        self.http: HttpTransport | None = None
        if config.http_port is not None:
            from plugin_server.server.http.transport import HttpTransport

            self.http = HttpTransport(config, self.service, self.rpc_slots)

    def _build_grpc_server(self) -> grpc.Server:
        config = self.config
        interceptors: list[grpc.ServerInterceptor] = (
            [BearerTokenInterceptor(config.auth_token)] if config.auth_token else []
        )
        # Our limit, not gRPC's maximum_concurrent_rpcs: refusals carry a retry hint and are
        # counted (rpc_limit.py). One count for both ports: the HTTP port takes the same slots.
        self.rpc_slots = RpcSlots(
            config.rpc_limit,
            retry_after_s=self.service.jobs.retry_after_s,
            on_refused=lambda: self.service.metrics.jobs.labels("rejected").inc(),
        )
        self.rpc_limit = ConcurrencyLimit(self.rpc_slots)
        interceptors.append(self.rpc_limit)
        server = grpc.server(
            # Each open stream holds a thread; spare threads answer refusals and health checks.
            futures.ThreadPoolExecutor(max_workers=config.rpc_limit + SPARE_THREADS),
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", config.max_message_bytes),
                ("grpc.max_send_message_length", config.max_message_bytes),
                # gRPC sets SO_REUSEPORT by default, so a second server on the same port would
                # start and silently take half the connections; refuse it instead.
                ("grpc.so_reuseport", 0),
            ],
        )
        foley_pb2_grpc.add_FoleyServiceServicer_to_server(FoleyServicer(self.service), server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        return server

    @property
    def address(self) -> str:
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def http_port(self) -> int | None:
        """The bound HTTP (Connect, gRPC-Web) port; None when not serving HTTP."""
        return self.http.port if self.http is not None else None

    @property
    def http_url(self) -> str | None:
        if self.http is None:
            return None
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"{self.http.scheme}://{host}:{self.http.port}"

    def start(self) -> None:
        config = self.config
        default_engine = self.service.pool.engine_info(config.engine)
        if not default_engine.available:
            # Refuse to start rather than accept every job only to refuse it.
            self.service.close(timeout_s=1.0)
            raise ValueError(
                f"the default engine {config.engine!r} cannot run: {default_engine.reason}"
            )
        bind = (
            f"[{config.host}]:{config.port}"
            if ":" in config.host
            else f"{config.host}:{config.port}"
        )
        try:
            if config.tls is not None:
                self.port = self._grpc.add_secure_port(bind, server_credentials(config.tls))
            else:
                self.port = self._grpc.add_insecure_port(bind)
        except RuntimeError as error:  # grpc's way of saying the bind failed
            raise OSError(f"cannot listen on {bind}: {error}") from error
        if self.port == 0:
            raise OSError(f"cannot listen on {bind}: the address is in use or not available")
        if config.metrics_port is not None:
            self._metrics_http, self.metrics_port = self.service.metrics.serve(
                config.metrics_host, config.metrics_port
            )
        if self.http is not None:
            try:
                self.http.start()
            except OSError:
                self._grpc.stop(grace=None)
                raise
        self._grpc.start()
        for service in ("", SERVICE_NAME):
            self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving on %s (%s), engine %s, preset %s, workers %s, media roots %s, output root %s",
            self.address,
            "TLS" if config.tls else "plaintext",
            config.engine,
            config.preset,
            ", ".join(self.service.devices),
            ", ".join(map(str, config.media_roots)),
            config.output_root or "none",
        )
        if self.http is not None:
            log.info(
                "serving Connect and gRPC-Web on %s (CORS origins: %s)",
                self.http_url,
                ", ".join(config.cors_origins) or "none",
            )

    def stop(self, grace_s: float | None = None) -> None:
        """Drain and stop: see the module docstring. Blocks until done."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            grace = self.config.shutdown_grace_s if grace_s is None else grace_s
            jobs = self.service.jobs
            jobs.drain()  # first, so that whoever sees NOT_SERVING also gets UNAVAILABLE
            self._health.enter_graceful_shutdown()
            log.info("shutting down: %d job(s) in flight, %.1f s grace", jobs.running(), grace)
            if not jobs.wait_idle(grace):
                cancelled = jobs.cancel_all()
                log.warning("grace period over: %d job(s) cancelled", cancelled)
                if not jobs.wait_idle(_CANCEL_SETTLE_S):
                    log.warning("%d job(s) still winding down; stopping anyway", jobs.running())
            self._grpc.stop(grace=1.0).wait()
            if self.http is not None:
                self.http.stop()
            self.service.close(timeout_s=_CANCEL_SETTLE_S)
            if self._metrics_http is not None:
                self._metrics_http.shutdown()
            self._stopped.set()
            log.info("server stopped")

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until stop() has finished; False on timeout."""
        return self._stopped.wait(timeout_s)

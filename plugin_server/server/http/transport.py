"""The HTTP listener: uvicorn (HTTP/1.1) running the HTTP application on its own thread and
event loop, bound to the server's host and `http_port`, with the server's TLS files.

Capacity is the gRPC server's: calls take slots of the same concurrent-call limit
(`rpc_limit`, shared with native gRPC; beyond it RESOURCE_EXHAUSTED with the retry hint,
interceptors.RpcLimitCheck), and as many threads as that limit plus spares run blocking service
calls (each open generation stream holds one, as over gRPC). uvicorn's own `limit_concurrency`,
which answers a bare 503, is only a backstop on open connections (idle keep-alives, downloads,
preflights and refusals included), set well above the call limit so that it never answers first.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from concurrent import futures
from typing import TypeVar

import uvicorn
from connectrpc.compat import google_protobuf_binary_codec
from google.protobuf import json_format
from google.protobuf.message import Message

from plugin_server.proto_gen.foley.v1.foley_connect import FoleyServiceASGIApplication
from plugin_server.server.config import ServerConfig
from plugin_server.server.http.asgi import CorsPolicy, HttpApplication
from plugin_server.server.http.handlers import ConnectFoleyService
from plugin_server.server.http.interceptors import BearerTokenCheck, RequestCounter, RpcLimitCheck
from plugin_server.server.rpc_limit import SPARE_THREADS, RpcSlots
from plugin_server.server.service import FoleyService

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

_START_TIMEOUT_S = 30.0
# After the jobs were drained: time for open connections to deliver their last bytes.
_CLOSE_GRACE_S = 2
# Open connections beyond the call limit before uvicorn's bare 503: room for idle keep-alive
# connections (a browser keeps several), file downloads, preflights and answered refusals.
_SPARE_CONNECTIONS = 64


class _StrictCompactJsonCodec:
    """proto3 JSON (a connectrpc Codec) on one line, refusing unknown fields and enum names.
    connectrpc's own JSON codec for Google's protobuf indents, which only adds bytes to
    streams, and ignores what it does not know: a misspelt `"delivery"` value or field name
    would silently become the default instead of an INVALID_ARGUMENT that names it."""

    def name(self) -> str:
        return "json"

    def encode(self, message: Message) -> bytes:
        return json_format.MessageToJson(message, indent=None).encode()

    def decode(self, data: bytes | bytearray, message_class: type[M]) -> M:
        message = message_class()
        json_format.Parse(data, message)
        return message


def build_application(
    config: ServerConfig,
    service: FoleyService,
    pool: futures.ThreadPoolExecutor,
    rpc_slots: RpcSlots,
) -> HttpApplication:
    """The whole HTTP application for a service (what the listener serves). The counter comes
    first so that it sees every refusal; the token before the limit, as over gRPC, so that a
    caller without it learns nothing of how busy the server is."""
    interceptors: list[object] = [RequestCounter(service.metrics)]
    if config.auth_token:
        interceptors.append(BearerTokenCheck(config.auth_token))
    interceptors.append(RpcLimitCheck(rpc_slots))
    connect_app = FoleyServiceASGIApplication(
        ConnectFoleyService(service, pool, config.max_message_bytes),  # type: ignore[arg-type]
        interceptors=interceptors,  # type: ignore[arg-type]
        read_max_bytes=config.max_message_bytes,
        codecs=(google_protobuf_binary_codec(), _StrictCompactJsonCodec()),
    )
    return HttpApplication(
        connect_app,  # type: ignore[arg-type]
        cors=CorsPolicy(config.cors_origins),
        auth_token=config.auth_token,
        output_root=service.policy.output_root,
        metrics=service.metrics,
        pool=pool,
        max_message_bytes=config.max_message_bytes,
    )


class HttpTransport:
    """start() binds and serves (raises OSError when the port cannot be had); stop() closes."""

    def __init__(self, config: ServerConfig, service: FoleyService, rpc_slots: RpcSlots) -> None:
        assert config.http_port is not None
        self.config = config
        self.port = 0
        self._pool = futures.ThreadPoolExecutor(
            max_workers=config.rpc_limit + SPARE_THREADS, thread_name_prefix="foley-http"
        )
        # uvicorn's INFO lines speak of starting and finishing a "server process", which here
        # is only this listener; ours say what is served.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        tls = config.tls
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(
                build_application(config, service, self._pool, rpc_slots),
                lifespan="off",
                log_config=None,  # the process's logging is configured by the server, not here
                access_log=False,
                server_header=False,
                limit_concurrency=config.rpc_limit + _SPARE_CONNECTIONS,
                timeout_graceful_shutdown=_CLOSE_GRACE_S,
                ssl_certfile=tls.cert_file if tls else None,
                ssl_keyfile=tls.key_file if tls else None,
                ssl_ca_certs=tls.client_ca_file if tls else None,
                ssl_cert_reqs=(ssl.CERT_REQUIRED if tls and tls.client_ca_file else ssl.CERT_NONE),
            )
        )
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls else "http"

    def start(self) -> None:
        host, port = self.config.host, self.config.http_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio turns Nagle's algorithm off only on sockets that say
        # so, and without it every small answer waits ~40 ms for the client's delayed ACK.
        listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as error:
            listener.close()
            raise OSError(f"cannot listen for HTTP on {host}:{port}: {error.strerror}") from error
        self._socket = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="foley-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._uvicorn.started:
            if self._failure is not None or not self._thread.is_alive():
                raise OSError(f"the HTTP listener did not start: {self._failure}")
            if time.monotonic() > deadline:
                raise OSError("the HTTP listener did not start in time")
            time.sleep(0.01)

    def _serve(self) -> None:
        try:
            asyncio.run(self._uvicorn.serve(sockets=[self._socket]))  # type: ignore[list-item]
        except BaseException as error:  # a thread's failure is otherwise lost: start() reports it
            self._failure = error
            log.error("the HTTP listener stopped: %s", error, exc_info=error)

    def stop(self) -> None:
        """Close the listener and the connections left (their jobs were drained or cancelled
        by then), and the thread pool. Idempotent."""
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_CLOSE_GRACE_S + 5.0)
            if self._thread.is_alive():
                log.warning("the HTTP listener is still closing; leaving it behind")
        self._pool.shutdown(wait=False, cancel_futures=True)

"""The server's limit on concurrent RPCs, enforced by us rather than by gRPC.

gRPC's own `maximum_concurrent_rpcs` refuses with a bare RESOURCE_EXHAUSTED ("Concurrent RPC
limit exceeded!"): no retry hint, and nothing the metrics can count. This interceptor holds the
limit instead (gRPC's is left unset) and refuses like every other busy answer of this server:
RESOURCE_EXHAUSTED with trailing `retry-after-ms`, counted as a rejected job. It counts RPCs
while their handler runs; the server's thread pool has spare threads beyond the limit so that
refusals are answered at once instead of queuing behind running jobs. Health checks and
reflection are exempt, so probes see a busy server as alive.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from plugin_server.server.errors import RETRY_AFTER_METADATA_KEY

log = logging.getLogger(__name__)

EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# Threads beyond the limit, free to answer refusals (and exempt probes) while it is reached.
SPARE_THREADS = 16


class ConcurrencyLimit(grpc.ServerInterceptor):
    """Refuse RPCs beyond `limit` running at once. `retry_after_s` gives the hint; `on_refused`
    counts the refusal."""

    def __init__(
        self,
        limit: int,
        retry_after_s: Callable[[], float],
        on_refused: Callable[[], None],
    ) -> None:
        self.limit = limit
        self._retry_after_s = retry_after_s
        self._on_refused = on_refused
        self._running = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(EXEMPT_PREFIXES):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # this service has no client-streaming methods

    def _unary(self, behavior: Callable[[Any, Any], Any], method: str) -> Callable[[Any, Any], Any]:
        def limited(request: Any, context: grpc.ServicerContext) -> Any:
            self._enter(context, method)
            try:
                return behavior(request, context)
            finally:
                self._leave()

        return limited

    def _stream(
        self, behavior: Callable[[Any, Any], Iterator[Any]], method: str
    ) -> Callable[[Any, Any], Iterator[Any]]:
        def limited(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            self._enter(context, method)
            try:
                yield from behavior(request, context)
            finally:
                self._leave()

        return limited

    def _enter(self, context: grpc.ServicerContext, method: str) -> None:
        with self._lock:
            if self._running < self.limit:
                self._running += 1
                return
        retry_s = self._retry_after_s()
        self._on_refused()
        log.info("%s refused: %d RPCs running, the server's limit", method, self.limit)
        context.set_trailing_metadata(
            ((RETRY_AFTER_METADATA_KEY, str(max(1, round(retry_s * 1000)))),)
        )
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"the server is busy with {self.limit} requests (its limit); "
            f"retry in about {retry_s:.1f} s",
        )

    def _leave(self) -> None:
        with self._lock:
            self._running -= 1

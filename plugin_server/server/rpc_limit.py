"""The server's limit on concurrent RPCs, enforced by us rather than by gRPC, on both ports.

gRPC's own `maximum_concurrent_rpcs` refuses with a bare RESOURCE_EXHAUSTED ("Concurrent RPC
limit exceeded!"): no retry hint, and nothing the metrics can count; uvicorn's
`limit_concurrency` answers a bare 503. `RpcSlots` holds the limit instead: one count of the
RPCs running, shared by native gRPC (the `ConcurrencyLimit` interceptor here) and the HTTP port
(Connect and gRPC-Web, `plugin_server.server.http.interceptors.RpcLimitCheck`), so the server
runs at most `rpc_limit` calls whichever way they came. Beyond it every transport refuses like
every other busy answer of this server: RESOURCE_EXHAUSTED with `retry-after-ms`, counted as a
rejected job. Calls are counted while their handler runs; the server's thread pools have spare
threads beyond the limit so that refusals are answered at once instead of queuing behind
running jobs. Health checks and reflection are exempt, so probes see a busy server as alive.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from plugin_server.server.errors import RETRY_AFTER_METADATA_KEY

log = logging.getLogger(__name__)

EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# Threads beyond the limit, free to answer refusals (and exempt probes) while it is reached.
SPARE_THREADS = 16


@dataclass(frozen=True)
class Refusal:
    """What a call beyond the limit is told: the message and when to try again."""

    message: str
    retry_after_s: float

    @property
    def retry_after_ms(self) -> str:
        """The `retry-after-ms` metadata value (at least 1)."""
        return str(max(1, round(self.retry_after_s * 1000)))

    @property
    def retry_after_header(self) -> str:
        """The HTTP `Retry-After` value: whole seconds, rounded up (at least 1)."""
        return str(max(1, math.ceil(self.retry_after_s)))


class RpcSlots:
    """At most `limit` calls at once across every transport. `retry_after_s` gives the hint;
    `on_refused` counts a refusal. Thread-safe; `take` never blocks."""

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

    def take(self, method: str) -> Refusal | None:
        """Take a slot for `method` (None), or count and return the refusal; a taken slot
        must be given back with release()."""
        with self._lock:
            if self._running < self.limit:
                self._running += 1
                return None
        retry_s = self._retry_after_s()
        self._on_refused()
        log.info("%s refused: %d calls running, the server's limit", method, self.limit)
        return Refusal(
            f"the server is busy with {self.limit} requests (its limit); "
            f"retry in about {retry_s:.1f} s",
            retry_s,
        )

    def release(self) -> None:
        with self._lock:
            self._running -= 1


class ConcurrencyLimit(grpc.ServerInterceptor):
    """Native gRPC's side of the shared RpcSlots: refuses RPCs beyond its limit."""

    def __init__(self, slots: RpcSlots) -> None:
        self.slots = slots

    @property
    def limit(self) -> int:
        return self.slots.limit

    @property
    def running(self) -> int:
        return self.slots.running

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
        refusal = self.slots.take(method)
        if refusal is None:
            return
        context.set_trailing_metadata(((RETRY_AFTER_METADATA_KEY, refusal.retry_after_ms),))
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal.message)

    def _leave(self) -> None:
        self.slots.release()

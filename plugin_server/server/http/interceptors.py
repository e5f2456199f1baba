"""Connect metadata interceptors: the request counter, the bearer token and the server's
concurrent-call limit (shared with native gRPC), in that order.

All run before the request body is read (connectrpc runs leading metadata interceptors first),
so a caller without the token is refused without its message being parsed; connectrpc then
writes the refusal in the caller's protocol (HTTP 401 JSON for Connect unary, an end-of-stream
error for Connect streams, `grpc-status: 16` for gRPC-Web).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from plugin_server.server.errors import RETRY_AFTER_METADATA_KEY
from plugin_server.server.metrics import ServerMetrics
from plugin_server.server.rpc_limit import Refusal, RpcSlots

log = logging.getLogger(__name__)

MISSING_TOKEN_MESSAGE = (
    "this server needs a bearer token: send the header 'Authorization: Bearer <token>'"
)
WRONG_TOKEN_MESSAGE = "the bearer token was not accepted"


def token_refusal(authorization: str | None, expected: str) -> str | None:
    """None when the Authorization header carries the token, else the message to answer.
    Compared in constant time, as over gRPC."""
    if authorization is not None and hmac.compare_digest(
        authorization.encode(), f"Bearer {expected}".encode()
    ):
        return None
    return WRONG_TOKEN_MESSAGE if authorization else MISSING_TOKEN_MESSAGE


def protocol_name(content_type: str) -> str:
    """The request counter's protocol label: "grpc-web" or "connect"."""
    return "grpc-web" if content_type.startswith("application/grpc-web") else "connect"


class BearerTokenCheck:
    def __init__(self, token: str) -> None:
        self._token = token

    async def on_start(self, ctx: RequestContext[Any, Any]) -> None:
        refusal = token_refusal(ctx.request_headers.get("authorization"), self._token)
        if refusal is not None:
            log.warning("refused %s over HTTP: %s", ctx.method.name, refusal)
            raise ConnectError(Code.UNAUTHENTICATED, refusal)

    async def on_end(
        self, token: None, ctx: RequestContext[Any, Any], error: Exception | None
    ) -> None:
        return None


def set_retry_hint(ctx: RequestContext[Any, Any], refusal: Refusal) -> None:
    """A busy answer's hint in every form an HTTP caller reads: `retry-after-ms` as a trailer
    (Connect unary errors carry it as the header `trailer-retry-after-ms`, Connect streams in
    the end-of-stream metadata, gRPC-Web in its trailers, as native gRPC does) and the standard
    `Retry-After` header in whole seconds for plain HTTP tools."""
    ctx.response_trailers[RETRY_AFTER_METADATA_KEY] = refusal.retry_after_ms
    ctx.response_headers["retry-after"] = refusal.retry_after_header


class RpcLimitCheck:
    """The HTTP port's side of the server's one concurrent-call limit (rpc_limit.RpcSlots): a
    call beyond it is refused RESOURCE_EXHAUSTED with the retry hint before its body is read,
    and counted as a rejected job, as over gRPC. Its slot is held until the call has ended
    (a stream: its last message sent, or its client gone)."""

    def __init__(self, slots: RpcSlots) -> None:
        self._slots = slots

    async def on_start(self, ctx: RequestContext[Any, Any]) -> bool:
        refusal = self._slots.take(ctx.method.name)
        if refusal is None:
            return True
        set_retry_hint(ctx, refusal)
        raise ConnectError(Code.RESOURCE_EXHAUSTED, refusal.message)

    async def on_end(
        self, token: bool, ctx: RequestContext[Any, Any], error: Exception | None
    ) -> None:
        # connectrpc calls on_end only for interceptors whose on_start returned.
        if token:
            self._slots.release()


class RequestCounter:
    """foley_http_requests{method, protocol, code} once each call has ended."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._requests = metrics.http_requests

    async def on_start(self, ctx: RequestContext[Any, Any]) -> None:
        return None

    async def on_end(
        self, token: None, ctx: RequestContext[Any, Any], error: Exception | None
    ) -> None:
        if error is None:
            code = "ok"
        elif isinstance(error, ConnectError):
            code = error.code.value
        else:
            code = Code.UNKNOWN.value
        protocol = protocol_name(ctx.request_headers.get("content-type", ""))
        self._requests.labels(ctx.method.name, protocol, code).inc()

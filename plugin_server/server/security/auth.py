"""Optional bearer-token authentication: `authorization: Bearer <token>` in call metadata.

The token is compared in constant time. Health checks are exempt so that orchestrators can
probe the server without the secret; everything else, reflection included, needs the token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

import grpc

log = logging.getLogger(__name__)

AUTH_METADATA_KEY = "authorization"
_EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if method.startswith(_EXEMPT_PREFIXES):
            return continuation(handler_call_details)
        offered = _metadata_value(handler_call_details.invocation_metadata, AUTH_METADATA_KEY)
        if offered is not None and hmac.compare_digest(offered.encode(), self._expected):
            return continuation(handler_call_details)
        log.warning("refused %s: %s bearer token", method, "wrong" if offered else "no")
        handler = continuation(handler_call_details)
        return _refusal(handler, offered is None)


def _metadata_value(metadata: Any, key: str) -> str | None:
    for item_key, value in metadata or ():
        if item_key == key:
            return value if isinstance(value, str) else value.decode(errors="replace")
    return None


def _refusal(handler: grpc.RpcMethodHandler | None, missing: bool) -> grpc.RpcMethodHandler:
    message = (
        "this server needs a bearer token: send metadata 'authorization: Bearer <token>' "
        "(foley-client --token)"
        if missing
        else "the bearer token was not accepted"
    )

    def abort(_request: Any, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    # Answer with the same streaming shape as the method, so the client sees a clean status.
    if handler is not None and handler.response_streaming:
        if handler.request_streaming:
            return grpc.stream_stream_rpc_method_handler(abort)
        return grpc.unary_stream_rpc_method_handler(
            abort,
            request_deserializer=handler.request_deserializer,
        )
    if handler is not None and handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(abort)
    return grpc.unary_unary_rpc_method_handler(
        abort, request_deserializer=handler.request_deserializer if handler else None
    )

"""Errors that only exist in a running server, and the one table of gRPC status codes."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from plugin_server.engines.base import Cancelled, EngineUnavailable
from plugin_server.media import errors as media_errors
from plugin_server.pipeline.errors import AccessRefused, InputNotFound, InvalidRequest
from plugin_server.presets.settings import PresetError
from timeline.errors import TimelineError

RETRY_AFTER_METADATA_KEY = "retry-after-ms"


class ServerBusy(RuntimeError):
    """The job queue is full; `retry_after_s` is a hint for when to try again."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ShuttingDown(RuntimeError):
    """The server is draining and takes no new work."""


@dataclass(frozen=True)
class RpcStatus:
    code: grpc.StatusCode
    message: str
    trailing_metadata: tuple[tuple[str, str], ...] = ()


# First match wins, so subclasses come before their bases.
_STATUS_BY_TYPE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
    (EngineUnavailable, grpc.StatusCode.FAILED_PRECONDITION),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (AccessRefused, grpc.StatusCode.PERMISSION_DENIED),
    (InputNotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (PresetError, grpc.StatusCode.INVALID_ARGUMENT),
    (TimelineError, grpc.StatusCode.INVALID_ARGUMENT),
    (media_errors.MediaNotFound, grpc.StatusCode.NOT_FOUND),
    (media_errors.InvalidRange, grpc.StatusCode.INVALID_ARGUMENT),
    (media_errors.FrameTooLarge, grpc.StatusCode.INVALID_ARGUMENT),
    (media_errors.MediaError, grpc.StatusCode.FAILED_PRECONDITION),
)


def status_for(error: BaseException) -> RpcStatus | None:
    """The status for an error a request may raise, or None for an unexpected one (a bug)."""
    message = str(error)
    if isinstance(error, ServerBusy):
        retry_ms = str(max(1, round(error.retry_after_s * 1000)))
        return RpcStatus(
            grpc.StatusCode.RESOURCE_EXHAUSTED, message, ((RETRY_AFTER_METADATA_KEY, retry_ms),)
        )
    for error_type, code in _STATUS_BY_TYPE:
        if isinstance(error, error_type):
            return RpcStatus(code, message)
    return None

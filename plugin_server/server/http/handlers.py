"""The Connect handlers: the generated `foley_connect.FoleyService` protocol implemented over the
same translate layer and FoleyService as the gRPC servicer. Nothing else.

The service is blocking (a job is a generator that waits on workers), so every call runs on this
transport's thread pool and the event loop only moves bytes. A stream's end for any reason (the
client left, its deadline passed, the server stops) sets the job's cancel event, exactly as the
gRPC servicer's end-of-RPC callback does; the job's remaining events are then drained on the
pool, so that it finishes, is counted and frees its slot as a cancelled job (or, when the
request's Connect-Timeout-Ms / grpc-timeout passed, as deadline_exceeded).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from typing import Any, TypeVar

import grpc
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from google.protobuf.message import Message

from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.server import translate
from plugin_server.server.errors import ServerBusy, status_for
from plugin_server.server.http.interceptors import set_retry_hint
from plugin_server.server.rpc_limit import Refusal
from plugin_server.server.service import FoleyService, RpcEnded
from plugin_server.server.servicer import end_cause, server_version

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=Message)

# gRPC and Connect share numeric codes; Connect spells one name differently.
_CONNECT_CODES = {
    code: Code.CANCELED if code is grpc.StatusCode.CANCELLED else Code[code.name]
    for code in grpc.StatusCode
    if code is not grpc.StatusCode.OK
}
_END = object()


def connect_error(error: BaseException, rpc: str, ctx: RequestContext[Any, Any]) -> ConnectError:
    """The Connect error for what a request raised, through the one status table
    (errors.status_for); an error it does not know is a bug, logged and answered INTERNAL."""
    if isinstance(error, ConnectError):
        return error
    status = status_for(error)
    if status is None:
        log.error("%s failed unexpectedly", rpc, exc_info=error)
        return ConnectError(Code.INTERNAL, f"{rpc}: internal error ({error}); see log")
    if isinstance(error, ServerBusy):
        set_retry_hint(ctx, Refusal(status.message, error.retry_after_s))
    else:
        for key, value in status.trailing_metadata:
            ctx.response_trailers[key] = value
    log.info("%s refused: %s %s", rpc, status.code.name, status.message)
    return ConnectError(_CONNECT_CODES[status.code], status.message)


class ConnectFoleyService:
    """Implements plugin_server.proto_gen.foley.v1.foley_connect.FoleyService."""

    def __init__(
        self, service: FoleyService, pool: futures.ThreadPoolExecutor, max_message_bytes: int
    ) -> None:
        self._service = service
        self._pool = pool
        self._max_message_bytes = max_message_bytes
        self._version = server_version()

    # -- RPCs ----------------------------------------------------------------------------------

    def generate_foley(
        self, request: pb.GenerateFoleyRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.GenerateFoleyResponse]:
        def responses(cancel: threading.Event) -> Iterator[pb.GenerateFoleyResponse]:
            job = translate.timeline_job(request)
            for event in self._service.generate_timeline(job, cancel):
                for field, message in translate.event_fields(event, inline=job.delivery.inline):
                    yield pb.GenerateFoleyResponse(**{field: message})

        return self._stream("GenerateFoley", responses, ctx)

    def generate_clip(
        self, request: pb.GenerateClipRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.GenerateClipResponse]:
        def responses(cancel: threading.Event) -> Iterator[pb.GenerateClipResponse]:
            clip = translate.clip_job_request(request)
            for event in self._service.generate_clip(clip, cancel):
                for field, message in translate.event_fields(event, inline=clip.delivery.inline):
                    yield pb.GenerateClipResponse(**{field: message})

        return self._stream("GenerateClip", responses, ctx)

    async def get_capabilities(
        self, request: pb.GetCapabilitiesRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetCapabilitiesResponse:
        return await self._unary(
            "GetCapabilities",
            lambda: translate.capabilities_message(self._service.capabilities(), self._version),
            ctx,
        )

    async def estimate_plan(
        self, request: pb.EstimatePlanRequest, ctx: RequestContext[Any, Any]
    ) -> pb.EstimatePlanResponse:
        return await self._unary(
            "EstimatePlan",
            lambda: pb.EstimatePlanResponse(
                plan=translate.plan_message(self._service.plan(translate.timeline_job(request)))
            ),
            ctx,
        )

    async def cancel_job(
        self, request: pb.CancelJobRequest, ctx: RequestContext[Any, Any]
    ) -> pb.CancelJobResponse:
        return await self._unary(
            "CancelJob",
            lambda: pb.CancelJobResponse(found=self._service.cancel(request.job_id)),
            ctx,
        )

    # -- running blocking code -----------------------------------------------------------------

    async def _unary(self, rpc: str, call: Callable[[], M], ctx: RequestContext[Any, Any]) -> M:
        try:
            response = await asyncio.wrap_future(self._pool.submit(call))
        except Exception as error:
            raise connect_error(error, rpc, ctx) from error
        self._check_size(response, rpc)
        return response

    async def _stream(
        self,
        rpc: str,
        responses: Callable[[threading.Event], Iterator[M]],
        ctx: RequestContext[Any, Any],
    ) -> AsyncIterator[M]:
        cancel = RpcEnded()
        iterator = responses(cancel)
        pending: futures.Future[Any] | None = None
        finished = False
        try:
            while True:
                pending = self._pool.submit(next, iterator, _END)
                try:
                    message = await asyncio.wrap_future(pending)
                except Exception as error:
                    finished = True  # a generator that raised is closed
                    raise connect_error(error, rpc, ctx) from error
                if message is _END:
                    finished = True
                    return
                self._check_size(message, rpc)
                yield message
        finally:
            if not finished:
                # The client left, its deadline passed or the server is stopping; the cause
                # (set first: the job reads it once it sees the event) is counted as over gRPC.
                remaining_ms = ctx.timeout_ms
                cancel.cause = end_cause(None if remaining_ms is None else remaining_ms / 1000)
                cancel.set()
                try:
                    self._pool.submit(_drain, rpc, pending, iterator)
                except RuntimeError:  # the pool is shut down: the server is stopping
                    threading.Thread(target=_drain, args=(rpc, pending, iterator)).start()

    def _check_size(self, message: Message, rpc: str) -> None:
        """The limit gRPC applies to what it sends (--max-message-mb) applies here too."""
        size = message.ByteSize()
        if size > self._max_message_bytes:
            raise ConnectError(
                Code.RESOURCE_EXHAUSTED,
                f"{rpc}: a response message of {size} bytes exceeds the server's limit of "
                f"{self._max_message_bytes} bytes (--max-message-mb)",
            )


def _drain(rpc: str, pending: futures.Future[Any] | None, iterator: Iterator[Any]) -> None:
    """Let a cancelled job run out on the pool: its stages stop at the cancel event, its
    remaining clips are reported cancelled (to no one) and it releases its slot."""
    if pending is not None:
        futures.wait([pending])
    try:
        for _ in iterator:
            pass
    except Exception as error:
        # Nobody is listening any more; the outcome is only worth a log line.
        log.info("%s: the cancelled job ended with %s: %s", rpc, type(error).__name__, error)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()

"""The gRPC servicer: validate, translate, call the service, translate back. Nothing else.

Every error leaves through `_statuses`, which asks errors.status_for for the code; an error it
does not know is a bug, logged with its traceback and answered INTERNAL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

import grpc

from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.proto_gen.foley.v1 import foley_pb2_grpc
from plugin_server.server import translate
from plugin_server.server.errors import status_for
from plugin_server.server.service import FoleyService, RpcEnded

log = logging.getLogger(__name__)

_DEADLINE_SLACK_S = 0.25


def server_version() -> str:
    """The installed foley-backend version, as capabilities report it on every transport."""
    try:
        return version("foley-backend")
    except PackageNotFoundError:
        return "unknown"


@contextmanager
def _statuses(context: grpc.ServicerContext, rpc: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        status = status_for(error)
        if status is None:
            log.exception("%s failed unexpectedly", rpc)
            context.abort(grpc.StatusCode.INTERNAL, f"{rpc}: internal error ({error}); see log")
        if status.trailing_metadata:
            context.set_trailing_metadata(status.trailing_metadata)
        log.info("%s refused: %s %s", rpc, status.code.name, status.message)
        context.abort(status.code, status.message)


def end_cause(remaining_s: float | None) -> str:
    """Why an RPC that ended before its job did ended: "deadline_exceeded" when its deadline
    had (about) passed, else "cancelled" (the client cancelled or went away). `remaining_s`:
    the deadline's time left when it ended, None without a deadline. The HTTP port uses it too,
    so that both transports count a passed deadline alike."""
    # The client's own timer usually fires first and cancels the call a few milliseconds
    # before the server's copy of the deadline passes (measured: 7 ms left), so a call
    # ending this close to its deadline counts as expired.
    expired = remaining_s is not None and remaining_s < _DEADLINE_SLACK_S
    return "deadline_exceeded" if expired else "cancelled"


def _cancel_on_end(context: grpc.ServicerContext) -> RpcEnded:
    """An event set when the RPC ends for any reason: done, client cancel, deadline; its
    `cause` tells a passed deadline from a cancel (for the log and metrics)."""
    cancel = RpcEnded()

    def ended() -> None:
        cancel.cause = end_cause(context.time_remaining())
        cancel.set()

    context.add_callback(ended)
    return cancel


class FoleyServicer(foley_pb2_grpc.FoleyServiceServicer):
    def __init__(self, service: FoleyService) -> None:
        self._service = service
        self._version = server_version()

    def GenerateFoley(
        self, request: pb.GenerateFoleyRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.GenerateFoleyResponse]:
        cancel = _cancel_on_end(context)
        with _statuses(context, "GenerateFoley"):
            job = translate.timeline_job(request)
            for event in self._service.generate_timeline(job, cancel):
                for field, message in translate.event_fields(event, inline=job.delivery.inline):
                    yield pb.GenerateFoleyResponse(**{field: message})

    def GenerateClip(
        self, request: pb.GenerateClipRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.GenerateClipResponse]:
        cancel = _cancel_on_end(context)
        with _statuses(context, "GenerateClip"):
            clip = translate.clip_job_request(request)
            for event in self._service.generate_clip(clip, cancel):
                for field, message in translate.event_fields(event, inline=clip.delivery.inline):
                    yield pb.GenerateClipResponse(**{field: message})

    def GetCapabilities(
        self, request: pb.GetCapabilitiesRequest, context: grpc.ServicerContext
    ) -> pb.GetCapabilitiesResponse:
        with _statuses(context, "GetCapabilities"):
            return translate.capabilities_message(self._service.capabilities(), self._version)
        raise AssertionError("unreachable: _statuses aborts")

    def EstimatePlan(
        self, request: pb.EstimatePlanRequest, context: grpc.ServicerContext
    ) -> pb.EstimatePlanResponse:
        with _statuses(context, "EstimatePlan"):
            plan = self._service.plan(translate.timeline_job(request))
            return pb.EstimatePlanResponse(plan=translate.plan_message(plan))
        raise AssertionError("unreachable: _statuses aborts")

    def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.ServicerContext
    ) -> pb.CancelJobResponse:
        with _statuses(context, "CancelJob"):
            return pb.CancelJobResponse(found=self._service.cancel(request.job_id))
        raise AssertionError("unreachable: _statuses aborts")

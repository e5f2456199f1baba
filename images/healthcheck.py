"""Docker HEALTHCHECK: ask the server's gRPC health service whether it is SERVING.

Exit status 0 when the overall status (service "") is SERVING, 1 otherwise, as Docker expects.
The port is FOLEY_GRPC_PORT (default 50051); the 4 s deadline stays under the HEALTHCHECK's 5 s
timeout so a hung server reads as unhealthy rather than as a timed-out check. When serving, the
line also names the devices the server uses and their free memory (`docker inspect` keeps the
last lines under .State.Health.Log), e.g.
`health: localhost:50051 SERVING on cuda:0 NVIDIA H200 (138.1 GiB free of 139.8 GiB)`.
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plugin_server.proto_gen.foley.v1 import foley_pb2, foley_pb2_grpc

DEADLINE_S = 3.5
# What is left of the 5 s for naming the devices; a slow answer only drops the names.
CAPABILITIES_DEADLINE_S = 1.0


def main() -> int:
    target = f"localhost:{os.environ.get('FOLEY_GRPC_PORT', '50051')}"
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=DEADLINE_S)
        except grpc.RpcError as error:
            print(f"health: {target} did not answer: {error.code().name} {error.details()}")
            return 1
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        serving = response.status == health_pb2.HealthCheckResponse.SERVING
        print(f"health: {target} {status}{devices(channel) if serving else ''}")
    return 0 if serving else 1


def devices(channel: grpc.Channel) -> str:
    """' on cuda:0 NVIDIA H200 (138.1 GiB free of 139.8 GiB)', or '' when not answered."""
    stub = foley_pb2_grpc.FoleyServiceStub(channel)
    try:
        capabilities = stub.GetCapabilities(
            foley_pb2.GetCapabilitiesRequest(), timeout=CAPABILITIES_DEADLINE_S
        )
    except grpc.RpcError:
        return ""  # health alone decides; an auth-protected server refuses this call
    named = [
        f"{device.name} {device.description} ({device.free_memory_bytes / 1024**3:.1f} GiB free "
        f"of {device.total_memory_bytes / 1024**3:.1f} GiB)"
        for device in capabilities.devices
    ]
    return " on " + ", ".join(named) if named else ""


if __name__ == "__main__":
    sys.exit(main())

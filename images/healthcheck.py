"""Docker HEALTHCHECK: ask the server's gRPC health service whether it is SERVING.

Exit status 0 when the overall status (service "") is SERVING, 1 otherwise, as Docker expects.
The port is FOLEY_GRPC_PORT (default 50051); the 4 s deadline stays under the HEALTHCHECK's 5 s
timeout so a hung server reads as unhealthy rather than as a timed-out check.
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

DEADLINE_S = 4.0


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
    print(f"health: {target} {status}")
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())

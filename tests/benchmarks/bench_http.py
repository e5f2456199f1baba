"""What the HTTP transport costs next to native gRPC, on one loopback server (procedural engine).

Two measurements, each a median over `--repeat` calls on one kept-alive connection per client:
- a unary call (GetCapabilities): native gRPC, Connect JSON, Connect protobuf, gRPC-Web;
- a cached 10-second clip delivered inline (GenerateClip: a 1.44 MB Broadcast WAV in 1 MiB
  chunks, so the time is the transport's, not generation's): native gRPC, Connect JSON (audio as
  base64), Connect protobuf.
Writes JSON to tests/benchmarks/results/http_<device>.json.

    .venv/bin/python tests/benchmarks/bench_http.py --repeat 30
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from google.protobuf import json_format

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_support import write_placeholder  # noqa: E402

from plugin_server.planning.device import cpu_model  # noqa: E402
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb  # noqa: E402
from plugin_server.proto_gen.foley.v1 import foley_pb2_grpc  # noqa: E402
from plugin_server.server.app import FoleyServer  # noqa: E402
from plugin_server.server.config import ServerConfig  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SERVICE = "/foley.v1.FoleyService"
CLIP_S = 10.0


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm: connection, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


class _Http:
    """One kept-alive HTTP/1.1 connection."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, method: str, body: bytes, content_type: str) -> bytes:
        headers = {"Content-Type": content_type}
        try:
            self._connection.request("POST", f"{SERVICE}/{method}", body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # The server closes connections idle for 5 s (uvicorn's keep-alive), e.g. while the
            # gRPC half of a measurement ran: open a new one, as a browser does.
            self._connection.close()
            self._connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=120)
            self._connection.request("POST", f"{SERVICE}/{method}", body=body, headers=headers)
        response = self._connection.getresponse()
        data = response.read()
        assert response.status == 200, (response.status, data[:200])
        return data


def _frames(data: bytes) -> list[bytes]:
    frames, position = [], 0
    while position < len(data):
        _flags, size = struct.unpack(">BI", data[position : position + 5])
        frames.append(data[position + 5 : position + 5 + size])
        position += 5 + size
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        media = Path(scratch) / "media"
        media.mkdir()
        write_placeholder(media / "clip.mov", CLIP_S + 0.5)
        server = FoleyServer(
            ServerConfig(
                media_roots=(media,),
                work_dir=Path(scratch) / "work",
                port=0,
                http_port=0,
                device="cpu",
                workers=1,
            )
        )
        server.start()
        try:
            results = _measure(server, args.repeat)
        finally:
            server.stop(grace_s=1.0)
    results = {
        "device": f"{cpu_model()} (loopback, server and client in one process)",
        "repeat": args.repeat,
        "load_average_1min": round(os.getloadavg()[0], 2),
        **results,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "http_cpu.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def _measure(server: FoleyServer, repeat: int) -> dict[str, object]:
    assert server.http_port is not None
    channel = grpc.insecure_channel(server.address)
    stub = foley_pb2_grpc.FoleyServiceStub(channel)
    connection = _Http(server.http_port)
    clip = pb.GenerateClipRequest(media_path="clip.mov", media_duration_s=CLIP_S, clip_id="c")
    clip_json = json.dumps(json_format.MessageToDict(clip)).encode()

    def grpc_clip() -> int:
        return sum(len(m.audio_chunk.data) for m in stub.GenerateClip(clip))

    def connect_clip(binary: bool) -> int:
        if binary:
            body = clip.SerializeToString()
            data = connection.post(
                "GenerateClip",
                struct.pack(">BI", 0, len(body)) + body,
                "application/connect+proto",
            )
            messages = [pb.GenerateClipResponse.FromString(f) for f in _frames(data)[:-1]]
            return sum(len(m.audio_chunk.data) for m in messages)
        data = connection.post(
            "GenerateClip",
            struct.pack(">BI", 0, len(clip_json)) + clip_json,
            "application/connect+json",
        )
        return len(data)

    audio_bytes = grpc_clip()  # generates once; later calls are cache hits
    empty = pb.GetCapabilitiesRequest().SerializeToString()
    unary = {
        "grpc": _median_ms(lambda: stub.GetCapabilities(pb.GetCapabilitiesRequest()), repeat),
        "connect_json": _median_ms(
            lambda: connection.post("GetCapabilities", b"{}", "application/json"), repeat
        ),
        "connect_proto": _median_ms(
            lambda: connection.post("GetCapabilities", empty, "application/proto"), repeat
        ),
        "grpc_web_proto": _median_ms(
            lambda: connection.post(
                "GetCapabilities",
                struct.pack(">BI", 0, len(empty)) + empty,
                "application/grpc-web+proto",
            ),
            repeat,
        ),
    }
    json_bytes = connect_clip(binary=False)
    inline = {
        "audio_bytes": audio_bytes,
        "connect_json_response_bytes": json_bytes,
        "grpc_ms": _median_ms(grpc_clip, repeat),
        "connect_json_ms": _median_ms(lambda: connect_clip(binary=False), repeat),
        "connect_proto_ms": _median_ms(lambda: connect_clip(binary=True), repeat),
    }
    channel.close()
    return {"get_capabilities_median_ms": unary, "cached_10s_clip_inline": inline}


if __name__ == "__main__":
    sys.exit(main())

"""The service over HTTP: Connect JSON (unary and streaming) and gRPC-Web (binary and text) from
a real server with the procedural engine, driven by urllib, http.client and curl."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import opentimelineio as otio
import pytest
from e2e_http_support import (
    END_STREAM,
    SERVICE_PATH,
    OpenStream,
    connect_stream_body,
    connect_unary,
    curl,
    envelope,
    grpc_web_call,
    parse_connect_stream,
    post,
    split_envelopes,
)
from e2e_support import TIMELINES, many_clip_timeline, read_wav_info

from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.server.app import FoleyServer
from timeline.formats import read_timeline
from timeline.spotting import spot_clips

SAMPLE_RATE = 48_000


@pytest.fixture
def http_server(start_server) -> FoleyServer:  # type: ignore[no-untyped-def]
    return start_server(http_port=0)


def _timeline_request(path: Path, **options: object) -> dict[str, object]:
    return {
        "timeline": {
            "data": base64.b64encode(path.read_bytes()).decode(),
            "sourceName": path.name,
        },
        "options": options,
    }


def test_capabilities_as_json_over_connect_unary(http_server: FoleyServer) -> None:
    answer = connect_unary(http_server.http_url, "GetCapabilities", {})
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    capabilities = answer.json()
    assert capabilities["defaultEngine"] == "procedural"
    engines = {engine["name"]: engine for engine in capabilities["engines"]}
    assert engines["procedural"]["available"] is True
    assert "reason" in engines["hunyuan"]
    # proto3 JSON: 64-bit integers are strings, names are lowerCamelCase.
    assert capabilities["limits"]["maxMessageBytes"] == str(64 << 20)
    assert capabilities["limits"]["audioChunkBytes"] == 1 << 20
    assert capabilities["outputRootConfigured"] is True


def test_generate_foley_streams_over_curl_to_aligned_audio(
    http_server: FoleyServer, tmp_path: Path
) -> None:
    request_file = tmp_path / "request.bin"
    request_file.write_bytes(
        connect_stream_body(
            _timeline_request(TIMELINES / "simple_cut.otio", prompt="footsteps", seed=7)
        )
    )
    headers_file = tmp_path / "headers.txt"
    response_file = tmp_path / "response.bin"
    curl(
        "--no-buffer",
        "-X", "POST",
        "-H", "Content-Type: application/connect+json",
        "--data-binary", f"@{request_file}",
        "--dump-header", str(headers_file),
        f"{http_server.http_url}{SERVICE_PATH}/GenerateFoley",
        output=response_file,
    )  # fmt: skip
    assert headers_file.read_text().split("\r\n")[0].split()[1] == "200"
    assert "content-type: application/connect+json" in headers_file.read_text().lower()
    stream = parse_connect_stream(200, {}, split_envelopes(response_file.read_bytes()))
    assert stream.end == {}, stream.end  # no error
    kinds = stream.kinds()
    assert kinds[0] == "accepted" and kinds[-2:] == ["resultTimeline", "summary"]
    accepted = stream.of_kind("accepted")[0]
    assert accepted["clipCount"] == 4 and accepted["jobId"]
    summary = stream.of_kind("summary")[0]
    assert summary["clipsGenerated"] == 4 and summary.get("cancelled", False) is False

    # Reassemble each file from its chunks, check it against its result, and check that it
    # sits under its picture: length and Broadcast WAV time reference from the record range.
    spotted = {
        clip.clip_id: clip
        for clip in spot_clips(read_timeline(TIMELINES / "simple_cut.otio").timeline)
    }
    files: dict[str, bytearray] = {}
    for chunk in stream.of_kind("audioChunk"):
        data = files.setdefault(chunk["fileName"], bytearray())
        assert int(chunk.get("offset", "0")) == len(data)
        data += base64.b64decode(chunk["data"])
    results = stream.of_kind("clipResult")
    assert len(results) == 4
    for result in results:
        audio = bytes(files[result["fileName"]])
        assert hashlib.sha256(audio).hexdigest() == result["sha256"]
        assert int(result["sizeBytes"]) == len(audio)
        path = tmp_path / result["fileName"]
        path.write_bytes(audio)
        info = read_wav_info(path)
        clip = spotted[result["clipId"]]
        assert info.sample_rate == SAMPLE_RATE
        assert info.frames == round(clip.record_duration_s * SAMPLE_RATE)
        assert info.time_reference == round(clip.record_start_s_since_midnight * SAMPLE_RATE)
    result_timeline = stream.of_kind("resultTimeline")[0]
    assert result_timeline["fileName"] == "simple_cut_foley.otio"
    timeline = otio.adapters.read_from_string(
        base64.b64decode(result_timeline["data"]).decode(), "otio_json"
    )
    audio_clips = [
        clip
        for track in timeline.tracks
        if track.kind == otio.schema.TrackKind.Audio
        for clip in track.find_clips()
    ]
    assert sorted(clip.media_reference.target_url.rsplit("/", 1)[-1] for clip in audio_clips) == (
        sorted(files)
    )


def test_grpc_web_binary_unary_call(http_server: FoleyServer) -> None:
    answer, messages, status = grpc_web_call(
        http_server.http_url, "GetCapabilities", pb.GetCapabilitiesRequest().SerializeToString()
    )
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/grpc-web+proto"
    assert status["grpc-status"] == "0"
    (message,) = messages
    capabilities = pb.GetCapabilitiesResponse.FromString(message)
    assert capabilities.default_engine == "procedural"
    assert capabilities.limits.workers == 1


def test_grpc_web_text_streams_a_clip(http_server: FoleyServer) -> None:
    request = pb.GenerateClipRequest(
        media_path="long.mov",
        media_start_s=1.0,
        media_duration_s=1.5,
        record_start_s=3600.0,
        clip_id="shot1",
    )
    answer, messages, status = grpc_web_call(
        http_server.http_url, "GenerateClip", request.SerializeToString(), text=True
    )
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/grpc-web-text+proto"
    assert status["grpc-status"] == "0", status
    events = [pb.GenerateClipResponse.FromString(message) for message in messages]
    kinds = [event.WhichOneof("event") for event in events]
    assert kinds[0] == "accepted" and kinds[-1] == "summary"
    audio = b"".join(event.audio_chunk.data for event in events if event.audio_chunk.data)
    (result,) = [event.clip_result for event in events if event.HasField("clip_result")]
    assert result.clip_id == "shot1"
    assert hashlib.sha256(audio).hexdigest() == result.sha256
    assert result.report.num_samples == round(1.5 * SAMPLE_RATE)


def test_grpc_web_text_request_may_be_several_padded_pieces(http_server: FoleyServer) -> None:
    # grpc-web's JS client may base64 each piece of a body on its own, padding included.
    frame = envelope(pb.CancelJobRequest(job_id="no-such-job").SerializeToString())
    body = base64.b64encode(frame[:4]) + base64.b64encode(frame[4:])
    assert body[6:8] == b"=="  # padding in the middle, after the first piece
    answer = post(
        f"{http_server.http_url}{SERVICE_PATH}/CancelJob",
        body,
        "application/grpc-web-text",
        {"X-Grpc-Web": "1"},
    )
    frames = split_envelopes(base64.b64decode(answer.body))
    assert [flags for flags, _ in frames] == [0x00, 0x80]
    assert pb.CancelJobResponse.FromString(frames[0][1]).found is False
    assert b"grpc-status:0" in frames[1][1].replace(b" ", b"")


def test_binary_protobuf_over_connect_unary(http_server: FoleyServer) -> None:
    answer = post(
        f"{http_server.http_url}{SERVICE_PATH}/EstimatePlan",
        pb.EstimatePlanRequest(
            timeline=pb.TimelineSource(
                data=(TIMELINES / "simple_cut.otio").read_bytes(), source_name="simple_cut.otio"
            )
        ).SerializeToString(),
        "application/proto",
    )
    assert answer.status == 200 and answer.headers["content-type"] == "application/proto"
    plan = pb.EstimatePlanResponse.FromString(answer.body).plan
    assert (plan.engine, plan.timeline_format, len(plan.clips)) == ("procedural", "otio", 4)


def test_connect_deadline_stops_the_job(http_server: FoleyServer) -> None:
    # 200 two-second clips take far longer than the 1.5 s deadline, even on a quiet machine.
    data = many_clip_timeline("file:///any/where/long.mov", 200, clip_frames=48)
    stream = OpenStream(
        http_server.http_url,
        "GenerateFoley",
        {"timeline": {"data": base64.b64encode(data).decode(), "sourceName": "long.otio"}},
        {"Connect-Timeout-Ms": "1500"},
    )
    try:
        frames = list(stream.frames())
    finally:
        stream.close()
    assert "accepted" in frames[0][1]
    flags, end = frames[-1]
    assert flags == END_STREAM and end["error"]["code"] == "deadline_exceeded"
    _assert_stopped_by_its_deadline(http_server, "connect")


def test_grpc_web_deadline_is_deadline_exceeded_and_counted(http_server: FoleyServer) -> None:
    data = many_clip_timeline("file:///any/where/long.mov", 200, clip_frames=48)
    request = pb.GenerateFoleyRequest(
        timeline=pb.TimelineSource(data=data, source_name="long.otio")
    )
    answer, messages, status = grpc_web_call(
        http_server.http_url,
        "GenerateFoley",
        request.SerializeToString(),
        headers={"grpc-timeout": "1500m"},  # 1500 milliseconds, gRPC's own notation
    )
    assert answer.status == 200
    assert pb.GenerateFoleyResponse.FromString(messages[0]).WhichOneof("event") == "accepted"
    assert status["grpc-status"] == "4"  # DEADLINE_EXCEEDED, as over native gRPC
    _assert_stopped_by_its_deadline(http_server, "grpc-web")


def _assert_stopped_by_its_deadline(server: FoleyServer, protocol: str) -> None:
    """The job was stopped, its worker freed, and it was counted as gRPC counts a passed
    deadline: foley_jobs_total{outcome="deadline_exceeded"}, not "cancelled"."""
    registry = server.service.metrics.registry
    deadline = time.monotonic() + 5
    while (
        server.service.jobs.running()
        or registry.get_sample_value("foley_jobs_total", {"outcome": "deadline_exceeded"}) is None
    ) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.service.jobs.running() == 0
    assert server.service.pool.busy_workers() == 0
    assert registry.get_sample_value("foley_jobs_total", {"outcome": "deadline_exceeded"}) == 1
    assert registry.get_sample_value("foley_jobs_total", {"outcome": "cancelled"}) is None
    labels = {"method": "GenerateFoley", "protocol": protocol, "code": "deadline_exceeded"}
    assert registry.get_sample_value("foley_http_requests_total", labels) == 1


def test_grpc_web_errors_carry_the_status_and_message(http_server: FoleyServer) -> None:
    request = pb.GenerateClipRequest(media_path="nope.mov", media_duration_s=1.0)
    for text in (False, True):
        answer, messages, status = grpc_web_call(
            http_server.http_url, "GenerateClip", request.SerializeToString(), text=text
        )
        assert answer.status == 200 and messages == []
        assert status["grpc-status"] == "5"  # NOT_FOUND, as over native gRPC
        assert "nope.mov" in status["grpc-message"]


def test_connect_errors_name_the_field(http_server: FoleyServer) -> None:
    answer = connect_unary(
        http_server.http_url, "EstimatePlan", {"timeline": {"path": "../outside.otio"}}
    )
    assert answer.status == 403
    assert answer.json()["code"] == "permission_denied"
    assert "timeline.path" in answer.json()["message"]
    malformed = post(
        f"{http_server.http_url}{SERVICE_PATH}/EstimatePlan", b"{not json", "application/json"
    )
    assert malformed.status == 400 and malformed.json()["code"] == "invalid_argument"
    unknown_enum = connect_unary(
        http_server.http_url, "EstimatePlan", {"options": {"delivery": "BY_PIGEON"}}
    )
    assert unknown_enum.status == 400 and "BY_PIGEON" in unknown_enum.json()["message"]
    misspelt = connect_unary(http_server.http_url, "EstimatePlan", {"timelin": {}})
    assert misspelt.status == 400 and "timelin" in misspelt.json()["message"]


def test_cancel_job_and_metrics_count_http_calls(http_server: FoleyServer) -> None:
    answer = connect_unary(http_server.http_url, "CancelJob", {"jobId": "no-such-job"})
    assert answer.status == 200 and answer.json() == {}  # found: false is the default
    connect_unary(http_server.http_url, "GetCapabilities", {})
    registry = http_server.service.metrics.registry
    labels = {"method": "CancelJob", "protocol": "connect", "code": "ok"}
    assert registry.get_sample_value("foley_http_requests_total", labels) == 1
    labels["method"] = "GetCapabilities"
    assert registry.get_sample_value("foley_http_requests_total", labels) == 1


def test_small_answers_are_not_held_back_by_nagle(http_server: FoleyServer) -> None:
    # With Nagle's algorithm on, each answer waited ~40 ms for the client's delayed ACK.
    connection = http.client.HTTPConnection("127.0.0.1", http_server.http_port, timeout=30)
    times = []
    for _ in range(15):
        started = time.perf_counter()
        connection.request(
            "POST",
            f"{SERVICE_PATH}/CancelJob",
            body=b"{}",
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b"{}"
        times.append(time.perf_counter() - started)
    connection.close()
    assert sorted(times)[len(times) // 2] < 0.025, times


def test_serve_command_prints_the_http_address_and_answers_curl(
    tmp_path: Path, media_root: Path
) -> None:
    command = [
        sys.executable, "-m", "plugin_server.cli", "serve",
        "--port", "0", "--http-port", "0", "--device", "cpu", "--workers", "1",
        "--media-root", str(media_root), "--work-dir", str(tmp_path / "work"),
        "--cors-origin", "https://panel.example",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("listening on ")
        line = process.stdout.readline().strip()
        assert line.startswith("http on http://127.0.0.1:"), line
        url = line.split()[-1]
        done = curl(
            "-H", "Content-Type: application/json",
            "-H", "Origin: https://panel.example",
            "--data", "{}",
            "--include",
            f"{url}{SERVICE_PATH}/GetCapabilities",
        )  # fmt: skip
        head, _, body = done.stdout.partition(b"\r\n\r\n")
        assert b"access-control-allow-origin: https://panel.example" in head.lower()
        assert json.loads(body)["defaultEngine"] == "procedural"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0

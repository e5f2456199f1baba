"""The HTTP transport's guards: bearer token, CORS, message limits, admission, client disconnect,
file downloads under the output root, TLS. A real server, real HTTP clients."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import ipaddress
import json
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2e_http_support import (
    END_STREAM,
    SERVICE_PATH,
    OpenStream,
    connect_stream_body,
    connect_unary,
    curl,
    grpc_web_call,
    parse_connect_stream,
    post,
    request,
    split_envelopes,
)
from e2e_support import TIMELINES, many_clip_timeline, read_wav_info

from plugin_server.client import FoleyClient, FoleyClientError
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.proto_gen.foley.v1 import foley_pb2_grpc
from plugin_server.server.config import AUDIO_CHUNK_BYTES, TlsConfig

TOKEN = "s3cret-token-for-http-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PANEL = "https://panel.example"
LONG_JOB_CLIPS = 60


def _wait_until(condition, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _long_job_request() -> dict[str, object]:
    data = many_clip_timeline("file:///any/where/long.mov", LONG_JOB_CLIPS, clip_frames=48)
    return {"timeline": {"data": base64.b64encode(data).decode(), "sourceName": "long.otio"}}


def _simple_cut_request(**options: object) -> dict[str, object]:
    data = (TIMELINES / "simple_cut.otio").read_bytes()
    return {
        "timeline": {"data": base64.b64encode(data).decode(), "sourceName": "simple_cut.otio"},
        "options": options,
    }


def _jobs(server, outcome: str) -> float:  # type: ignore[no-untyped-def]
    value = server.service.metrics.registry.get_sample_value(
        "foley_jobs_total", {"outcome": outcome}
    )
    return value or 0.0


# -- bearer token ------------------------------------------------------------------------------


def test_missing_or_wrong_token_is_refused_in_each_protocol(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0, auth_token=TOKEN)
    url = server.http_url
    missing = connect_unary(url, "GetCapabilities", {})
    assert missing.status == 401
    assert missing.json()["code"] == "unauthenticated"
    assert "Authorization: Bearer <token>" in missing.json()["message"]
    wrong = connect_unary(url, "GetCapabilities", {}, {"Authorization": "Bearer nope-nope-nope"})
    assert wrong.status == 401 and wrong.json()["message"] == "the bearer token was not accepted"
    # A stream is refused in its end-of-stream message, before any job is admitted.
    answer = post(
        f"{url}{SERVICE_PATH}/GenerateFoley",
        connect_stream_body(_simple_cut_request()),
        "application/connect+json",
    )
    stream = parse_connect_stream(answer.status, answer.headers, split_envelopes(answer.body))
    assert stream.messages == [] and stream.end["error"]["code"] == "unauthenticated"
    _, messages, status = grpc_web_call(
        url, "GetCapabilities", pb.GetCapabilitiesRequest().SerializeToString()
    )
    assert messages == [] and status["grpc-status"] == "16"
    assert _jobs(server, "completed") + _jobs(server, "rejected") == 0
    granted = connect_unary(url, "GetCapabilities", {}, AUTH)
    assert granted.status == 200 and granted.json()["defaultEngine"] == "procedural"
    registry = server.service.metrics.registry
    refused = {"method": "GetCapabilities", "protocol": "connect", "code": "unauthenticated"}
    assert registry.get_sample_value("foley_http_requests_total", refused) == 2


# -- CORS --------------------------------------------------------------------------------------


def test_configured_origin_gets_preflight_and_cors_headers(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0, cors_origins=(PANEL,))
    url = f"{server.http_url}{SERVICE_PATH}/GenerateFoley"
    preflight = request(
        url,
        "OPTIONS",
        {
            "Origin": PANEL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,connect-protocol-version",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == PANEL
    allowed = {h.strip() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "connect-protocol-version", "x-grpc-web"} <= allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answer = connect_unary(server.http_url, "GetCapabilities", {}, {"Origin": PANEL})
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == PANEL
    exposed = answer.headers["access-control-expose-headers"]
    assert "grpc-status" in exposed and "grpc-message" in exposed
    # Callers that are not browsers send no Origin and get no CORS headers.
    plain = connect_unary(server.http_url, "GetCapabilities", {})
    assert plain.status == 200 and "access-control-allow-origin" not in plain.headers


@pytest.mark.parametrize("origins", [(), (PANEL,)], ids=["none configured", "another"])
def test_other_origins_are_refused(start_server, origins: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0, cors_origins=origins)
    evil = "https://evil.example"
    preflight = request(
        f"{server.http_url}{SERVICE_PATH}/GetCapabilities",
        "OPTIONS",
        {"Origin": evil, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 403
    assert "access-control-allow-origin" not in preflight.headers
    answer = connect_unary(server.http_url, "GetCapabilities", {}, {"Origin": evil})
    assert answer.status == 403 and "access-control-allow-origin" not in answer.headers
    assert answer.json()["code"] == "permission_denied"
    assert f"--cors-origin {evil}" in answer.json()["message"]


# -- limits and admission ----------------------------------------------------------------------


def test_messages_over_the_limit_are_refused(start_server) -> None:  # type: ignore[no-untyped-def]
    limit = AUDIO_CHUNK_BYTES + (64 << 10)  # the smallest limit a server accepts
    server = start_server(http_port=0, max_message_bytes=limit)
    oversized = {"timeline": {"data": base64.b64encode(b"x" * limit).decode()}}
    unary = connect_unary(server.http_url, "EstimatePlan", oversized)
    assert unary.status == 429  # Connect's HTTP status for resource_exhausted
    assert unary.json()["code"] == "resource_exhausted"
    assert str(limit) in unary.json()["message"]
    answer = post(
        f"{server.http_url}{SERVICE_PATH}/GenerateFoley",
        connect_stream_body(oversized),
        "application/connect+json",
    )
    stream = parse_connect_stream(answer.status, answer.headers, split_envelopes(answer.body))
    assert stream.messages == [] and stream.end["error"]["code"] == "resource_exhausted"
    request_bytes = pb.EstimatePlanRequest(
        timeline=pb.TimelineSource(data=b"x" * limit)
    ).SerializeToString()
    _, messages, status = grpc_web_call(server.http_url, "EstimatePlan", request_bytes, text=True)
    assert messages == [] and status["grpc-status"] == "8"
    # Just under the limit is read, and refused only for what it is (not a timeline).
    small = {"timeline": {"data": base64.b64encode(b"x" * 1000).decode()}}
    fitting = connect_unary(server.http_url, "EstimatePlan", small)
    assert fitting.json()["code"] == "invalid_argument"


def _assert_busy_hint(headers: dict[str, str], retry_ms: str) -> None:
    """Both forms of the busy hint agree: `Retry-After` is the milliseconds in whole seconds."""
    assert int(retry_ms) >= 1
    assert int(headers["retry-after"]) == max(1, -(-int(retry_ms) // 1000))


@pytest.mark.slow
def test_the_call_limit_is_shared_with_grpc_and_refuses_with_a_retry_hint(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0, max_concurrent_rpcs=1)
    url = server.http_url
    held = OpenStream(url, "GenerateFoley", _long_job_request())  # takes the only slot
    try:
        assert "accepted" in next(held.frames())[1]
        unary = connect_unary(url, "GetCapabilities", {})
        assert unary.status == 429 and unary.json()["code"] == "resource_exhausted"
        assert "busy with 1 requests" in unary.json()["message"]
        _assert_busy_hint(unary.headers, unary.headers["trailer-retry-after-ms"])

        answer = post(
            f"{url}{SERVICE_PATH}/GenerateFoley",
            connect_stream_body(_simple_cut_request()),
            "application/connect+json",
        )
        stream = parse_connect_stream(answer.status, answer.headers, split_envelopes(answer.body))
        assert stream.messages == [] and stream.end["error"]["code"] == "resource_exhausted"
        _assert_busy_hint(answer.headers, stream.end["metadata"]["retry-after-ms"][0])

        for text in (False, True):
            web, messages, status = grpc_web_call(
                url, "GetCapabilities", pb.GetCapabilitiesRequest().SerializeToString(), text=text
            )
            assert messages == [] and status["grpc-status"] == "8"  # RESOURCE_EXHAUSTED
            _assert_busy_hint(web.headers, status["retry-after-ms"])

        # What a shell script sees: a plain 429 with the standard header.
        raw = curl(
            "--include", "--request", "POST", "--header", "Content-Type: application/json",
            "--data", "{}", f"{url}{SERVICE_PATH}/GetCapabilities",
        ).stdout.decode()  # fmt: skip
        head, _, body = raw.partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 429")
        assert re.search(r"^retry-after: [1-9][0-9]*\r?$", head, re.I | re.M)
        assert json.loads(body)["code"] == "resource_exhausted"

        # The limit is the server's, not the port's: native gRPC is refused too.
        with FoleyClient(server.address) as client, pytest.raises(FoleyClientError) as native:
            client.capabilities(timeout_s=10)
        assert native.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert native.value.retry_after_s is not None and native.value.retry_after_s > 0

        assert _jobs(server, "rejected") == 6
        registry = server.service.metrics.registry
        for method, protocol, count in (
            ("GetCapabilities", "connect", 2),
            ("GenerateFoley", "connect", 1),
            ("GetCapabilities", "grpc-web", 2),
        ):
            labels = {"method": method, "protocol": protocol, "code": "resource_exhausted"}
            assert registry.get_sample_value("foley_http_requests_total", labels) == count
    finally:
        held.close()
    # The held stream's end gives its slot back.
    assert _wait_until(lambda: server.rpc_slots.running == 0, 10.0)
    assert connect_unary(url, "GetCapabilities", {}).status == 200


@pytest.mark.slow
def test_a_native_grpc_stream_holds_the_slot_an_http_call_would_take(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0, max_concurrent_rpcs=1)
    data = many_clip_timeline("file:///any/where/long.mov", LONG_JOB_CLIPS, clip_frames=48)
    channel = grpc.insecure_channel(server.address)
    held = foley_pb2_grpc.FoleyServiceStub(channel).GenerateFoley(
        pb.GenerateFoleyRequest(timeline=pb.TimelineSource(data=data, source_name="long.otio"))
    )
    try:
        assert next(held).WhichOneof("event") == "accepted"
        refused = connect_unary(server.http_url, "GetCapabilities", {})
        assert refused.status == 429 and refused.json()["code"] == "resource_exhausted"
        _assert_busy_hint(refused.headers, refused.headers["trailer-retry-after-ms"])
        assert _jobs(server, "rejected") == 1
    finally:
        held.cancel()
        channel.close()
    assert _wait_until(lambda: server.rpc_slots.running == 0, 10.0)
    assert connect_unary(server.http_url, "GetCapabilities", {}).status == 200


@pytest.mark.slow
def test_a_full_server_refuses_with_a_retry_hint_and_cancel_job_frees_it(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0, max_jobs=1)
    first = OpenStream(server.http_url, "GenerateFoley", _long_job_request())
    try:
        frames = first.frames()
        _flags, accepted = next(frames)
        job_id = accepted["accepted"]["jobId"]
        answer = post(
            f"{server.http_url}{SERVICE_PATH}/GenerateFoley",
            connect_stream_body(_simple_cut_request()),
            "application/connect+json",
        )
        busy = parse_connect_stream(answer.status, answer.headers, split_envelopes(answer.body))
        assert busy.messages == []
        assert busy.end["error"]["code"] == "resource_exhausted"
        assert "busy" in busy.end["error"]["message"]
        _assert_busy_hint(answer.headers, busy.end["metadata"]["retry-after-ms"][0])
        assert _jobs(server, "rejected") == 1
        cancelled = connect_unary(server.http_url, "CancelJob", {"jobId": job_id})
        assert cancelled.json() == {"found": True}
        rest = list(frames)
        assert rest[-1] == (END_STREAM, {})
        summary = rest[-2][1]["summary"]
        assert summary["cancelled"] is True and summary["clipsCancelled"] > 0
    finally:
        first.close()
    after = post(
        f"{server.http_url}{SERVICE_PATH}/GenerateFoley",
        connect_stream_body(_simple_cut_request()),
        "application/connect+json",
    )
    done = parse_connect_stream(after.status, after.headers, split_envelopes(after.body))
    assert done.end == {} and done.of_kind("summary")[0]["clipsGenerated"] == 4


@pytest.mark.slow
def test_client_disconnect_cancels_the_job_and_frees_the_worker(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0)
    stream = OpenStream(server.http_url, "GenerateFoley", _long_job_request())
    started = time.monotonic()
    results = 0
    for _flags, message in stream.frames():
        if "clipResult" in message:
            results += 1
            break
    stream.close()  # what a closed browser tab or an aborted fetch does
    assert results == 1
    assert _wait_until(lambda: server.service.jobs.running() == 0, 5.0)
    assert _wait_until(lambda: server.service.pool.busy_workers() == 0, 5.0)
    assert _wait_until(lambda: _jobs(server, "cancelled") == 1, 5.0)
    assert _jobs(server, "completed") == 0
    clips = server.service.metrics.registry.get_sample_value(
        "foley_clips_total", {"result": "generated"}
    )
    assert clips is not None and clips < LONG_JOB_CLIPS
    assert time.monotonic() - started < 20


# -- files ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_finished_files_download_and_paths_cannot_escape(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = start_server(http_port=0, auth_token=TOKEN)
    url = server.http_url
    answer = post(
        f"{url}{SERVICE_PATH}/GenerateFoley",
        connect_stream_body(
            _simple_cut_request(delivery="AUDIO_DELIVERY_OUTPUT_ROOT", outputDir="panel/cut1")
        ),
        "application/connect+json",
        AUTH,
    )
    stream = parse_connect_stream(answer.status, answer.headers, split_envelopes(answer.body))
    assert stream.end == {} and stream.of_kind("audioChunk") == []
    result = stream.of_kind("clipResult")[0]
    relative = f"panel/cut1/{result['fileName']}"

    download = tmp_path / "download.wav"
    done = curl(
        "-H", f"Authorization: Bearer {TOKEN}",
        "--dump-header", "-",
        f"{url}/files/{relative}",
        output=download,
    )  # fmt: skip
    head = done.stdout.decode().lower()
    assert head.startswith("http/1.1 200")
    assert "content-type: audio/wav" in head
    assert f"content-length: {result['sizeBytes']}" in head
    assert hashlib.sha256(download.read_bytes()).hexdigest() == result["sha256"]
    assert read_wav_info(download).sample_rate == 48_000
    # ClipResult.path, the file's absolute path on the server, is accepted as well.
    by_path = request(f"{url}/files/{quote(result['path'])}", "GET", AUTH)
    assert by_path.status == 200 and hashlib.sha256(by_path.body).hexdigest() == result["sha256"]
    head_only = request(f"{url}/files/{relative}", "HEAD", AUTH)
    assert head_only.status == 200 and head_only.body == b""
    assert head_only.headers["content-length"] == result["sizeBytes"]

    no_token = request(f"{url}/files/{relative}", "GET")
    assert no_token.status == 401 and no_token.json()["code"] == "unauthenticated"
    secret = tmp_path / "secret.txt"
    secret.write_text("not for clients")
    (tmp_path / "output" / "panel" / "leak.txt").symlink_to(secret)
    for escape in (
        "../secret.txt",
        "panel/../../secret.txt",
        "%2e%2e/secret.txt",
        quote(str(secret)),
        "panel/leak.txt",
        "file:///etc/hostname",
    ):
        refused = curl(
            "--path-as-is", "-H", f"Authorization: Bearer {TOKEN}", "--write-out", "%{http_code}",
            f"{url}/files/{escape}",
        )  # fmt: skip
        assert refused.stdout.endswith(b"403"), (escape, refused.stdout)
        assert b"not for clients" not in refused.stdout
    missing = request(f"{url}/files/panel/cut1/nope.wav", "GET", AUTH)
    assert missing.status == 404 and "nope.wav" in missing.json()["message"]
    registry = server.service.metrics.registry
    labels = {"method": "files", "protocol": "http", "code": "permission_denied"}
    assert registry.get_sample_value("foley_http_requests_total", labels) == 6


# -- TLS -----------------------------------------------------------------------------------------


def _certificate(
    folder: Path, name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path, Path]:
    """A certificate for 127.0.0.1, self-signed (a CA) or signed by `issuer`, written as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(issuer[1] if issuer else key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate, key, cert_file, key_file


def _self_signed(folder: Path) -> TlsConfig:
    _, _, cert_file, key_file = _certificate(folder, "server", None)
    return TlsConfig(cert_file, key_file)


def test_tls_serves_https_with_the_grpc_certificate(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tls = _self_signed(tmp_path)
    server = start_server(http_port=0, tls=tls, auth_token=TOKEN)
    assert server.http_url.startswith("https://127.0.0.1:")
    done = curl(
        "--cacert", str(tls.cert_file),
        "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {TOKEN}",
        "--data", "{}",
        f"{server.http_url}{SERVICE_PATH}/GetCapabilities",
    )  # fmt: skip
    assert b'"defaultEngine": "procedural"' in done.stdout
    plain = server.http_url.replace("https://", "http://")
    # Plain HTTP to the TLS port: the connection is dropped, no answer is read.
    with pytest.raises((OSError, http.client.HTTPException)):
        connect_unary(plain, "GetCapabilities", {}, AUTH)


def test_mtls_requires_a_client_certificate_over_http_too(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca, ca_key, ca_file, _ = _certificate(tmp_path, "ca", None)
    _, _, server_cert, server_key = _certificate(tmp_path, "server", (ca, ca_key))
    _, _, client_cert, client_key = _certificate(tmp_path, "client", (ca, ca_key))
    server = start_server(http_port=0, tls=TlsConfig(server_cert, server_key, ca_file))
    url = f"{server.http_url}{SERVICE_PATH}/GetCapabilities"
    common = ("--cacert", str(ca_file), "-H", "Content-Type: application/json", "--data", "{}")
    with pytest.raises(subprocess.CalledProcessError):  # the handshake fails: no certificate
        curl(*common, url)
    done = curl(*common, "--cert", str(client_cert), "--key", str(client_key), url)
    assert b'"defaultEngine": "procedural"' in done.stdout

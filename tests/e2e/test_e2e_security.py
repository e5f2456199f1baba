"""Security: bearer tokens, TLS and mTLS, paths that try to leave the roots, message sizes."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2e_support import TIMELINES
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plugin_server.client import (
    ClientTls,
    FoleyClient,
    FoleyClientError,
    GenerateOptions,
    ServerPath,
)
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.server.config import TlsConfig

TOKEN = "s3cret-token-for-tests"


def test_missing_or_wrong_token_is_unauthenticated(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(auth_token=TOKEN)
    for token in (None, "wrong-token-of-enough-length"):
        with (
            FoleyClient(server.address, token=token) as client,
            pytest.raises(FoleyClientError) as refused,
        ):
            client.capabilities()
        assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    with (
        FoleyClient(server.address, token=None) as client,
        pytest.raises(FoleyClientError) as refused,
    ):
        client.plan(TIMELINES / "simple_cut.otio")
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "bearer token" in str(refused.value)
    with FoleyClient(server.address, token=TOKEN) as client:
        assert client.capabilities().default_engine == "procedural"


def test_health_checks_need_no_token(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(auth_token=TOKEN)
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = health.Check(health_pb2.HealthCheckRequest(service="foley.v1.FoleyService"))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    "path", ["../outside.otio", "/etc/hostname", "file:///etc/hostname", "sub/../../x.otio"]
)
def test_timeline_paths_outside_the_media_roots_are_refused(client: FoleyClient, path: str) -> None:
    with pytest.raises(FoleyClientError) as refused:
        client.plan(ServerPath(path))
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_timeline_path_under_a_media_root_is_read(client: FoleyClient, media_root: Path) -> None:
    (media_root / "edits").mkdir()
    (media_root / "edits" / "cut.otio").write_bytes((TIMELINES / "simple_cut.otio").read_bytes())
    assert len(client.plan(ServerPath("edits/cut.otio")).clips) == 4


def test_media_outside_the_roots_is_never_read(
    client: FoleyClient, tmp_path: Path, media_root: Path
) -> None:
    secret = tmp_path / "private" / "titles.mov"
    secret.parent.mkdir()
    secret.write_bytes((media_root / "titles.mov").read_bytes())
    text = (TIMELINES / "simple_cut.otio").read_text()
    edited = text.replace("file:///folder/titles.mov", secret.as_uri())
    plan = client.plan(edited.encode())
    problems = {problem.name: problem for problem in plan.problems}
    # Answered as missing, exactly like a file that does not exist (no probing; see
    # tests/adversarial/test_disclosure.py).
    assert problems["Clip-001"].kind == pb.PROBLEM_KIND_MISSING_MEDIA
    assert "not found under the server's media roots" in problems["Clip-001"].reason
    assert len(plan.clips) == 3


@pytest.mark.parametrize("output_dir", ["../escape", "/tmp/escape", "a/../../b"])
def test_output_dirs_outside_the_output_root_are_refused(
    client: FoleyClient, tmp_path: Path, output_dir: str
) -> None:
    options = GenerateOptions(server_output_dir=output_dir)
    with pytest.raises(FoleyClientError) as refused:
        client.generate(TIMELINES / "simple_cut.otio", tmp_path / "out.otio", options)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert not (tmp_path / "escape").exists()


def test_oversize_messages_are_refused(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = start_server(max_message_bytes=2 << 20)
    big = b" " * (3 << 20) + (TIMELINES / "simple_cut.otio").read_bytes()
    with FoleyClient(server.address) as client, pytest.raises(FoleyClientError) as refused:
        client.plan(big)
    assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    with FoleyClient(server.address) as client:
        assert len(client.plan(TIMELINES / "simple_cut.otio").clips) == 4


# -- TLS ---------------------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool) -> x509.Certificate:  # type: ignore[no-untyped-def]
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA with a server and a client certificate, as PEM files."""
    ca_key = _key()
    ca = _certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    files: dict[str, Path] = {}

    def save(name: str, data: bytes) -> None:
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(data)

    save("ca", ca.public_bytes(serialization.Encoding.PEM))
    for role in ("server", "client"):
        key = _key()
        certificate = _certificate(f"{role}.test", key, "test CA", ca_key, ca=False)
        save(f"{role}_cert", certificate.public_bytes(serialization.Encoding.PEM))
        save(
            f"{role}_key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    return files


def test_tls_server_talks_to_a_client_that_trusts_its_ca(start_server, pki) -> None:  # type: ignore[no-untyped-def]
    server = start_server(tls=TlsConfig(pki["server_cert"], pki["server_key"]))
    with FoleyClient(server.address, tls=ClientTls(ca_file=pki["ca"])) as client:
        assert client.capabilities().default_engine == "procedural"
    with FoleyClient(server.address) as plaintext, pytest.raises(FoleyClientError) as refused:
        plaintext.capabilities(timeout_s=5)
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE


def test_mtls_server_refuses_clients_without_a_certificate(start_server, pki) -> None:  # type: ignore[no-untyped-def]
    server = start_server(
        tls=TlsConfig(pki["server_cert"], pki["server_key"], client_ca_file=pki["ca"])
    )
    with_certificate = ClientTls(pki["ca"], pki["client_cert"], pki["client_key"])
    with FoleyClient(server.address, tls=with_certificate) as client:
        assert client.capabilities().default_engine == "procedural"
    with (
        FoleyClient(server.address, tls=ClientTls(ca_file=pki["ca"])) as client,
        pytest.raises(FoleyClientError) as refused,
    ):
        client.capabilities(timeout_s=5)
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE


def test_server_binds_loopback_by_default(server) -> None:  # type: ignore[no-untyped-def]
    assert server.address.startswith("127.0.0.1:")

"""TLS for the server, optionally requiring client certificates signed by a given CA (mTLS)."""

from __future__ import annotations

from pathlib import Path

import grpc

from plugin_server.server.config import TlsConfig


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the {what} {path}: {error.strerror}") from error


def server_credentials(config: TlsConfig) -> grpc.ServerCredentials:
    """Credentials for `add_secure_port`; with a client CA, unauthenticated clients are refused."""
    key = _read(config.key_file, "TLS key")
    certificate = _read(config.cert_file, "TLS certificate")
    client_ca = (
        _read(config.client_ca_file, "client CA certificate") if config.client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [(key, certificate)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )

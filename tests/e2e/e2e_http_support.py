"""Small real HTTP clients for the Connect / gRPC-Web end-to-end tests: urllib, http.client and
curl, with the protocols' framing written out here (5-byte envelopes) rather than taken from
the server's own library, so that the tests check the wire format a browser sees."""

from __future__ import annotations

import base64
import http.client
import json
import struct
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SERVICE_PATH = "/foley.v1.FoleyService"
END_STREAM = 0x02  # Connect: the last envelope, a JSON object with an optional error
GRPC_WEB_TRAILERS = 0x80  # gRPC-Web: the last frame, HTTP/1-style trailer lines


def envelope(payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(payload)) + payload


def split_envelopes(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    position = 0
    while position < len(data):
        flags, length = struct.unpack(">BI", data[position : position + 5])
        frames.append((flags, data[position + 5 : position + 5 + length]))
        position += 5 + length
    assert position == len(data), "a truncated envelope at the end of the body"
    return frames


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def post(
    url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> HttpAnswer:
    """One POST through urllib; HTTP errors are answers too."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return HttpAnswer(response.status, _lower(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, _lower(error.headers), error.read())


def request(url: str, method: str, headers: dict[str, str] | None = None) -> HttpAnswer:
    """Any method without a body (GET, HEAD, OPTIONS) through urllib."""
    message = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(message, timeout=60) as response:
            return HttpAnswer(response.status, _lower(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, _lower(error.headers), error.read())


def connect_unary(
    base_url: str, method: str, message: dict[str, Any], headers: dict[str, str] | None = None
) -> HttpAnswer:
    """A Connect unary call with a JSON body, as `fetch` makes it."""
    return post(
        f"{base_url}{SERVICE_PATH}/{method}",
        json.dumps(message).encode(),
        "application/json",
        {"Connect-Protocol-Version": "1", **(headers or {})},
    )


@dataclass
class ConnectStream:
    """A Connect server stream read to its end: the messages and the end-of-stream object."""

    status: int
    headers: dict[str, str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] = field(default_factory=dict)

    def kinds(self) -> list[str]:
        return [next(iter(message)) for message in self.messages]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [message[kind] for message in self.messages if kind in message]


def connect_stream_body(message: dict[str, Any]) -> bytes:
    return envelope(json.dumps(message).encode())


def parse_connect_stream(
    status: int, headers: dict[str, str], frames: list[tuple[int, bytes]]
) -> ConnectStream:
    stream = ConnectStream(status, headers)
    for flags, payload in frames:
        if flags & END_STREAM:
            stream.end = json.loads(payload)
        else:
            stream.messages.append(json.loads(payload))
    return stream


class OpenStream:
    """A Connect JSON server stream over http.client, read frame by frame, which the test may
    abandon half-way by closing the connection (what a closed browser tab does)."""

    def __init__(
        self,
        base_url: str,
        method: str,
        message: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.connection.request(
            "POST",
            f"{SERVICE_PATH}/{method}",
            body=connect_stream_body(message),
            headers={"Content-Type": "application/connect+json", **(headers or {})},
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = _lower(self.response.headers)

    def frames(self) -> Iterator[tuple[int, dict[str, Any]]]:
        while True:
            head = self.response.read(5)
            if not head:
                return
            flags, length = struct.unpack(">BI", head)
            yield flags, json.loads(self.response.read(length))

    def close(self) -> None:
        self.response.close()
        self.connection.close()


def grpc_web_call(
    base_url: str,
    method: str,
    request_bytes: bytes,
    *,
    text: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[HttpAnswer, list[bytes], dict[str, str]]:
    """A gRPC-Web call (binary, or base64 text): the answer, its messages and its status
    (from the trailer frame, or from the headers of a trailers-only answer)."""
    body = envelope(request_bytes)
    content_type = "application/grpc-web-text" if text else "application/grpc-web+proto"
    answer = post(
        f"{base_url}{SERVICE_PATH}/{method}",
        base64.b64encode(body) if text else body,
        content_type,
        {"X-Grpc-Web": "1", **(headers or {})},
    )
    data = base64.b64decode(answer.body) if text else answer.body
    messages = []
    status = {key: value for key, value in answer.headers.items() if key.startswith("grpc-")}
    for flags, payload in split_envelopes(data):
        if flags & GRPC_WEB_TRAILERS:
            for line in payload.decode().split("\r\n"):
                if line:
                    key, _, value = line.partition(":")
                    status[key.strip().lower()] = value.strip()
        else:
            messages.append(payload)
    return answer, messages, status


def curl(*arguments: str, output: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run curl quietly, failing on transport errors only (HTTP errors are checked by tests)."""
    command = ["curl", "--silent", "--show-error", "--max-time", "120", *arguments]
    if output is not None:
        command += ["--output", str(output)]
    return subprocess.run(command, capture_output=True, check=True, timeout=150)


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}

"""The ASGI application in front of the generated Connect application: CORS for configured
browser origins, `GET /files/<path>` under the output root, and gRPC-Web's base64 text variant.

connectrpc serves Connect and binary gRPC-Web itself; `application/grpc-web-text` (what
grpc-web's JS client sends by default) is decoded here into binary gRPC-Web, handed to the same
generated application, and its answer encoded back, so it needs no handler of its own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import mimetypes
import os
from collections.abc import Awaitable, Callable, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any
from urllib.parse import quote

from plugin_server.pipeline.errors import AccessRefused, InputNotFound, InvalidRequest
from plugin_server.server.http.interceptors import token_refusal
from plugin_server.server.metrics import ServerMetrics
from plugin_server.server.security.paths import plain_path

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FILES_PREFIX = "/files/"
FILE_CHUNK_BYTES = 1 << 20
GRPC_WEB_TEXT = "application/grpc-web-text"
_GRPC_WEB_BINARY = b"application/grpc-web+proto"

# What a browser client may send: the bearer token, and Connect's and gRPC-Web's own headers.
ALLOWED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "content-encoding",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "x-grpc-web",
    "x-user-agent",
)
# What a browser client must be able to read beyond the CORS-safelisted response headers:
# gRPC-Web's status (trailers-only answers carry it in headers), compression, the busy hint
# (`trailer-` prefixed on Connect unary errors) and a download's file name.
EXPOSED_RESPONSE_HEADERS = (
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "connect-content-encoding",
    "content-encoding",
    "content-disposition",
    "retry-after",
    "retry-after-ms",
    "trailer-retry-after-ms",
)
PREFLIGHT_MAX_AGE_S = 7200

# Our own result files first; mimetypes' answers differ between systems for these.
_CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".otio": "application/json",
    ".xml": "application/xml",
    ".fcpxml": "application/xml",
    ".edl": "text/plain; charset=utf-8",
    ".aaf": "application/octet-stream",
}
_HTTP_STATUS = {AccessRefused: 403, InvalidRequest: 400, InputNotFound: 404}


class CorsPolicy:
    """Browser origins allowed to call; `*` allows any. None configured: every browser origin is
    refused (calls without an Origin header, such as curl's, are not browser calls)."""

    def __init__(self, origins: Sequence[str]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(origin.lower() for origin in origins)

    def allows(self, origin: str) -> bool:
        return self._any or origin.lower() in self._origins


class HttpApplication:
    """CORS around everything; files and gRPC-Web text beside the Connect application."""

    def __init__(
        self,
        connect_app: ASGIApp,
        *,
        cors: CorsPolicy,
        auth_token: str | None,
        output_root: Path | None,
        metrics: ServerMetrics,
        pool: futures.ThreadPoolExecutor,
        max_message_bytes: int,
    ) -> None:
        self._connect = connect_app
        self._cors = cors
        self._token = auth_token
        self._output_root = output_root
        self._requests = metrics.http_requests
        self._pool = pool
        self._max_message_bytes = max_message_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._connect(scope, receive, send)
            return
        body = _RequestBody(receive, discard_limit=4 * self._max_message_bytes)
        receive, send = body.receive, body.completing_first(send)
        headers = _headers(scope)
        origin = headers.get("origin")
        if origin is not None:
            if not self._cors.allows(origin):
                log.warning("refused %s %s from origin %s", scope["method"], scope["path"], origin)
                self._requests.labels("cors", "http", "permission_denied").inc()
                await _json_error(
                    send,
                    403,
                    "permission_denied",
                    f"origin {origin} may not call this server; start it with "
                    f"--cors-origin {origin} to allow it",
                )
                return
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await _preflight(send, origin)
                return
            send = _with_headers(send, _cors_headers(origin))
        if scope["path"].startswith(FILES_PREFIX):
            await self._serve_file(scope, headers, send)
        elif headers.get("content-type", "").startswith(GRPC_WEB_TEXT):
            await self._grpc_web_text(scope, receive, send)
        else:
            await self._connect(scope, receive, send)

    # -- GET /files/<path> ---------------------------------------------------------------------

    async def _serve_file(self, scope: Scope, headers: dict[str, str], send: Send) -> None:
        method = scope["method"]
        code, status, message = "ok", 200, ""
        path: Path | None = None
        if method not in ("GET", "HEAD"):
            code, status, message = "unimplemented", 405, f"{method} is not served under /files/"
        elif self._token is not None and (
            refusal := token_refusal(headers.get("authorization"), self._token)
        ):
            code, status, message = "unauthenticated", 401, refusal
        elif self._output_root is None:
            code, status, message = (
                "not_found",
                404,
                "this server has no output root (--output-root), so it serves no files",
            )
        else:
            relative = scope["path"][len(FILES_PREFIX) :]
            try:
                path = output_file(self._output_root, relative)
            except (AccessRefused, InvalidRequest, InputNotFound) as error:
                status = _HTTP_STATUS[type(error)]
                code = {403: "permission_denied", 400: "invalid_argument", 404: "not_found"}[status]
                message = str(error)
                log.info("refused file %r: %s", relative, error)
        self._requests.labels("files", "http", code).inc()
        if path is None:
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            if status == 405:
                extra.append((b"allow", b"GET, HEAD"))
            await _json_error(send, status, code, message, extra)
            return
        await self._send_file(path, send, body=method == "GET")

    async def _send_file(self, path: Path, send: Send, *, body: bool) -> None:
        loop = asyncio.get_running_loop()
        handle = await loop.run_in_executor(self._pool, path.open, "rb")
        try:
            size = os.fstat(handle.fileno()).st_size
            suffix = path.suffix.lower()
            content_type = (
                _CONTENT_TYPES.get(suffix)
                or mimetypes.guess_type(path.name)[0]
                or "application/octet-stream"
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", content_type.encode()),
                        (b"content-length", str(size).encode()),
                        (
                            b"content-disposition",
                            f"attachment; filename*=UTF-8''{quote(path.name)}".encode(),
                        ),
                        # A file of a later job may take the same name.
                        (b"cache-control", b"no-cache"),
                    ],
                }
            )
            remaining = size if body else 0
            while remaining > 0:
                chunk = await loop.run_in_executor(
                    self._pool, handle.read, min(FILE_CHUNK_BYTES, remaining)
                )
                if not chunk:  # the file shrank under us; the client sees a short body
                    break
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            handle.close()

    # -- gRPC-Web text -------------------------------------------------------------------------

    async def _grpc_web_text(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Base64 takes 4 characters per 3 bytes; the frame header adds 5 bytes.
        limit = 4 * ((self._max_message_bytes + 5 + 2) // 3) + 4
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _grpc_web_text_status(
                    send, 8, f"message is larger than configured max {self._max_message_bytes}"
                )
                return
            if not message.get("more_body", False):
                break
        try:
            body = decode_base64_segments(b"".join(chunks))
        except ValueError as error:
            await _grpc_web_text_status(send, 3, f"the grpc-web-text body is not base64: {error}")
            return
        inner_scope = dict(scope)
        inner_scope["headers"] = [
            (key, _GRPC_WEB_BINARY if key == b"content-type" else value)
            for key, value in scope["headers"]
            if key != b"content-length"
        ]
        delivered = False

        async def inner_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only the client's disconnect comes

        encoder = _Base64Stream()

        async def inner_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [
                    (key, _text_content_type(value) if key == b"content-type" else value)
                    for key, value in message["headers"]
                    if key != b"content-length"
                ]
            elif message["type"] == "http.response.body":
                more = message.get("more_body", False)
                message = {
                    "type": "http.response.body",
                    "body": encoder.feed(message.get("body", b""), final=not more),
                    "more_body": more,
                }
            await send(message)

        await self._connect(inner_scope, inner_receive, inner_send)


def output_file(output_root: Path, text: str) -> Path:
    """The real path of the file `text` names under the output root (relative to it, or an
    absolute server path inside it, as ClipResult.path gives). Plain paths only: `..`, `~`,
    backslashes and URLs are refused, and symlinks leading out of the root are refused too."""
    candidate = plain_path(text, "file path")
    real = (output_root / candidate).resolve()  # an absolute candidate replaces the root
    if not real.is_relative_to(output_root):
        raise AccessRefused(f"{text} is outside the server's output root; it is not served")
    if not real.is_file():
        raise InputNotFound(f"{text} is not a file under the server's output root")
    return real


def decode_base64_segments(text: bytes) -> bytes:
    """Decode base64 that may be several independently padded pieces back to back (gRPC-Web
    text clients may encode each frame on its own)."""
    text = b"".join(text.split())
    if len(text) % 4:
        raise ValueError(f"{len(text)} characters is not a whole number of base64 quanta")
    decoded = bytearray()
    start = 0
    while start < len(text):
        pad = text.find(b"=", start)
        end = len(text) if pad < 0 else (pad // 4 + 1) * 4
        try:
            decoded += base64.b64decode(text[start:end], validate=True)
        except binascii.Error as error:
            raise ValueError(str(error)) from error
        start = end
    return bytes(decoded)


class _RequestBody:
    """Tracks whether the request body was read to its end, and reads (and drops) what is left
    before a response that refused it early ends: a client that asked for `Connection: close`
    and is still sending would otherwise have its connection reset before it reads the answer.
    A body too large (`discard_limit`) or too slow to drop is cut off all the same."""

    _DISCARD_TIMEOUT_S = 10.0

    def __init__(self, receive: Receive, discard_limit: int) -> None:
        self._receive = receive
        self._discard_limit = discard_limit
        self.complete = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self.complete = True
        return message

    def completing_first(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            ending = message["type"] == "http.response.body" and not message.get("more_body")
            if ending and not self.complete:
                await self._discard_rest()
            await send(message)

        return sending

    async def _discard_rest(self) -> None:
        discarded = 0
        try:
            async with asyncio.timeout(self._DISCARD_TIMEOUT_S):
                while not self.complete and discarded <= self._discard_limit:
                    discarded += len((await self.receive()).get("body", b""))
        except TimeoutError:
            log.info("stopped reading a refused request body after %d bytes", discarded)


class _Base64Stream:
    """Encodes a byte stream as one base64 text, padded only at its end: whole 3-byte groups go
    out as they come and the remainder waits for the next piece."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: bytes, *, final: bool) -> bytes:
        data = self._carry + data
        whole = len(data) if final else len(data) - len(data) % 3
        self._carry = data[whole:]
        return base64.b64encode(data[:whole])


def _text_content_type(value: bytes) -> bytes:
    if value.startswith(b"application/grpc-web"):
        return GRPC_WEB_TEXT.encode() + b"+proto"
    return value


def _headers(scope: Scope) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]
    }


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", ", ".join(EXPOSED_RESPONSE_HEADERS).encode()),
        (b"vary", b"Origin"),
    ]


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return sending


async def _preflight(send: Send, origin: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS"),
                (b"access-control-allow-headers", ", ".join(ALLOWED_REQUEST_HEADERS).encode()),
                (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
                (b"vary", b"Origin"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _json_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """An error in Connect's JSON error shape, which the panel already reads for RPCs."""
    body = json.dumps({"code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _grpc_web_text_status(send: Send, status: int, message: str) -> None:
    """A trailers-only gRPC-Web answer: the status in the headers, no body."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", GRPC_WEB_TEXT.encode() + b"+proto"),
                (b"grpc-status", str(status).encode()),
                (b"grpc-message", quote(message).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})

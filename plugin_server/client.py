"""Python client for the Foley service, for editing-software plugins and scripts.

    from plugin_server.client import FoleyClient, GenerateOptions

    with FoleyClient("127.0.0.1:50051") as client:
        result = client.generate("edit.otio", "edit_foley.otio", GenerateOptions(prompt="studio"))
    print(result.timeline_path, result.audio_files)

`generate` sends the timeline, receives the audio inline (written beside the output timeline, in
`<output stem>_audio/`, unless `audio_dir` says otherwise) and writes the result timeline,
whose new audio tracks refer to those files. Nothing is left half-written: each file appears
under its final name only once complete and checked against the server's SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import grpc
from google.protobuf import json_format, struct_pb2

from plugin_server.pipeline.atomic import file_mode, write_bytes_atomically
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.proto_gen.foley.v1 import foley_pb2_grpc

DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
RETRY_AFTER_METADATA_KEY = "retry-after-ms"

_CONTAINERS = {"wav": pb.AUDIO_CONTAINER_WAV, "flac": pb.AUDIO_CONTAINER_FLAC}
_SAMPLE_FORMATS = {"pcm24": pb.SAMPLE_FORMAT_PCM24, "float32": pb.SAMPLE_FORMAT_FLOAT32}

Event = pb.GenerateFoleyResponse | pb.GenerateClipResponse
EventCallback = Callable[[Event], None]


class FoleyClientError(RuntimeError):
    """A call failed. `code` is the gRPC status; `retry_after_s` is the server's hint when it
    was busy (RESOURCE_EXHAUSTED), else None."""

    def __init__(
        self, message: str, code: grpc.StatusCode | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ServerPath:
    """A timeline already on the server: absolute, or relative to one of its media roots."""

    path: str


TimelineInput = Path | str | bytes | ServerPath


@dataclass(frozen=True)
class ClientTls:
    """PEM files: the CA that signed the server's certificate, and for mTLS the client's
    certificate and key."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class GenerateOptions:
    """Generation options; empty values mean the server's defaults.

    `parameters` override the preset (keys as in preset files). `tracks`: "V1", "1" or names.
    `server_output_dir`: when set, the server writes the audio under its output root in this
    folder instead of sending it back. `media_search_dirs` and `media_maps` (old prefix, new
    prefix) are server paths that add to the server's own relinking.
    """

    engine: str = ""
    preset: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    tracks: Sequence[str] = ()
    handles_frames: int = 0
    container: Literal["wav", "flac"] = "wav"
    sample_format: Literal["pcm24", "float32"] = "pcm24"
    channels: int = 1
    loudness_target_lufs: float | None = None
    result_format: str = ""
    media_search_dirs: Sequence[str] = ()
    media_maps: Sequence[tuple[str, str]] = ()
    skip_cache: bool = False
    server_output_dir: str | None = None

    def to_message(self, inline_audio_dir: Path | None = None) -> pb.GenerationOptions:
        if self.container not in _CONTAINERS:
            raise ValueError(f"container must be one of {', '.join(_CONTAINERS)}")
        if self.sample_format not in _SAMPLE_FORMATS:
            raise ValueError(f"sample_format must be one of {', '.join(_SAMPLE_FORMATS)}")
        message = pb.GenerationOptions(
            engine=self.engine,
            preset=self.preset,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            tracks=list(self.tracks),
            handles_frames=self.handles_frames,
            audio_format=pb.AudioFormat(
                container=_CONTAINERS[self.container],
                sample_format=_SAMPLE_FORMATS[self.sample_format],
                channels=self.channels,
            ),
            result_format=self.result_format,
            media_search_dirs=list(self.media_search_dirs),
            media_maps=[pb.MediaMapping(from_prefix=a, to_prefix=b) for a, b in self.media_maps],
            skip_cache=self.skip_cache,
        )
        if self.parameters:
            parameters = struct_pb2.Struct()
            parameters.update(dict(self.parameters))
            message.parameters.CopyFrom(parameters)
        if self.seed is not None:
            message.seed = self.seed
        if self.loudness_target_lufs is not None:
            message.loudness_target_lufs = self.loudness_target_lufs
        if self.server_output_dir is not None:
            message.delivery = pb.AUDIO_DELIVERY_OUTPUT_ROOT
            message.output_dir = self.server_output_dir
        else:
            message.delivery = pb.AUDIO_DELIVERY_INLINE
            message.inline_audio_dir = str(inline_audio_dir) if inline_audio_dir else ""
        return message


@dataclass(frozen=True)
class ClipAudioFile:
    """One clip's audio: a local file (inline delivery) or a server path (output root)."""

    clip_id: str
    path: Path
    from_cache: bool
    sha256: str
    size_bytes: int
    report: pb.ClipReport


@dataclass(frozen=True)
class GenerateResult:
    job_id: str
    timeline_path: Path | None
    audio_files: dict[str, ClipAudioFile]
    problems: list[pb.ClipProblem]
    summary: pb.JobSummary
    plan: pb.Plan


class FoleyClient:
    """A connection to one server. Thread-safe; use as a context manager or call close()."""

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        tls: ClientTls | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if tls is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_optional(tls.ca_file),
                private_key=_read_optional(tls.key_file),
                certificate_chain=_read_optional(tls.cert_file),
            )
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = foley_pb2_grpc.FoleyServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.target = target

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> FoleyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    # -- unary calls -------------------------------------------------------------------------

    def capabilities(self, timeout_s: float | None = 30.0) -> pb.GetCapabilitiesResponse:
        return self._unary(self._stub.GetCapabilities, pb.GetCapabilitiesRequest(), timeout_s)

    def plan(
        self,
        timeline: TimelineInput,
        options: GenerateOptions | None = None,
        *,
        timeout_s: float | None = 120.0,
        timeline_format: str = "",
        timeline_name: str = "",
    ) -> pb.Plan:
        """The plan for a timeline (local file, bytes or ServerPath), without generating.
        `timeline_name` picks one timeline of a file that holds several."""
        request = pb.EstimatePlanRequest(
            timeline=_timeline_source(timeline, timeline_format, timeline_name),
            options=(options or GenerateOptions()).to_message(),
        )
        return self._unary(self._stub.EstimatePlan, request, timeout_s).plan

    def cancel(self, job_id: str, timeout_s: float | None = 30.0) -> bool:
        """Ask the server to stop a job; False when it knows no running job by that id."""
        request = pb.CancelJobRequest(job_id=job_id)
        return self._unary(self._stub.CancelJob, request, timeout_s).found

    def wait_until_ready(self, timeout_s: float = 10.0) -> None:
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError as error:
            raise FoleyClientError(
                f"no server answered at {self.target} within {timeout_s:g} s",
                grpc.StatusCode.UNAVAILABLE,
            ) from error

    # -- generation ----------------------------------------------------------------------------

    def generate(
        self,
        timeline: TimelineInput,
        output: Path | str,
        options: GenerateOptions | None = None,
        *,
        audio_dir: Path | str | None = None,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
        timeout_s: float | None = None,
        timeline_format: str = "",
        timeline_name: str = "",
        busy_retries: int = 0,
    ) -> GenerateResult:
        """Generate Foley for a timeline (local file, bytes or ServerPath); write the result
        timeline to `output`.

        Audio comes back inline into `audio_dir` (default: `<output stem>_audio` beside
        `output`) unless `options.server_output_dir` asks the server to keep it. `on_event` sees
        every stream message (progress bars). Setting `cancel` stops the job on the server.
        When the server is busy, waits its retry hint and tries again up to `busy_retries`
        times.
        """
        options = options or GenerateOptions()
        output = Path(output)
        inline = options.server_output_dir is None
        audio_folder = Path(audio_dir) if audio_dir else output.parent / f"{output.stem}_audio"
        request = pb.GenerateFoleyRequest(
            timeline=_timeline_source(timeline, timeline_format, timeline_name),
            options=options.to_message(audio_folder.resolve() if inline else None),
        )
        for attempt in range(busy_retries + 1):
            try:
                return self._generate_once(
                    request, output, audio_folder, inline, on_event, cancel, timeout_s
                )
            except FoleyClientError as error:
                # Only the server's own busy refusals carry a retry hint; gRPC's
                # RESOURCE_EXHAUSTED for an oversized message would fail again the same way.
                busy = error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
                if not busy or error.retry_after_s is None or attempt == busy_retries:
                    raise
                time.sleep(error.retry_after_s)
        raise AssertionError("unreachable")

    def generate_clip(
        self,
        media_path: str,
        output: Path | str,
        *,
        media_start_s: float,
        media_duration_s: float,
        time_scalar: float = 1.0,
        record_duration_s: float = 0.0,
        record_start_s: float = 0.0,
        clip_id: str = "clip",
        options: GenerateOptions | None = None,
        on_event: EventCallback | None = None,
        timeout_s: float | None = None,
    ) -> ClipAudioFile:
        """Generate audio for one range of a media file on the server; write it to `output`."""
        options = options or GenerateOptions()
        request = pb.GenerateClipRequest(
            media_path=media_path,
            media_start_s=media_start_s,
            media_duration_s=media_duration_s,
            time_scalar=time_scalar,
            record_duration_s=record_duration_s,
            record_start_s=record_start_s,
            clip_id=clip_id,
            options=options.to_message(),
        )
        output = Path(output)
        receiver = _AudioReceiver(output.parent, names={clip_id: output.name})
        try:
            stream = self._stub.GenerateClip(request, timeout=timeout_s, metadata=self._metadata)
            for event in _relayed(stream, on_event):
                kind = event.WhichOneof("event")
                if kind == "audio_chunk":
                    receiver.chunk(event.audio_chunk)
                elif kind == "clip_result":
                    return receiver.finish(event.clip_result, inline=not options.server_output_dir)
                elif kind == "clip_problem":
                    problem = event.clip_problem
                    raise FoleyClientError(f"{pb.ProblemKind.Name(problem.kind)}: {problem.reason}")
        finally:
            receiver.abandon()
        raise FoleyClientError("the server ended the stream without a result")

    # -- internals -----------------------------------------------------------------------------

    def _unary(self, method: Any, request: Any, timeout_s: float | None) -> Any:
        try:
            return method(request, timeout=timeout_s, metadata=self._metadata)
        except grpc.RpcError as error:
            raise _client_error(error) from None

    def _generate_once(
        self,
        request: pb.GenerateFoleyRequest,
        output: Path,
        audio_folder: Path,
        inline: bool,
        on_event: EventCallback | None,
        cancel: threading.Event | None,
        timeout_s: float | None,
    ) -> GenerateResult:
        receiver = _AudioReceiver(audio_folder)
        timeline = _TimelineReceiver()
        stream = self._stub.GenerateFoley(request, timeout=timeout_s, metadata=self._metadata)
        stop_watch = _cancel_when_set(stream, cancel)
        job_id = ""
        plan = pb.Plan()
        problems: list[pb.ClipProblem] = []
        timeline_path: Path | None = None
        try:
            for event in _relayed(stream, on_event):
                kind = event.WhichOneof("event")
                if kind == "accepted":
                    job_id, plan = event.accepted.job_id, event.accepted.plan
                elif kind == "audio_chunk":
                    receiver.chunk(event.audio_chunk)
                elif kind == "clip_result":
                    receiver.finish(event.clip_result, inline=inline)
                elif kind == "clip_problem":
                    problems.append(event.clip_problem)
                elif kind == "result_timeline":
                    if timeline.add(event.result_timeline):
                        write_bytes_atomically(output, timeline.data())
                        timeline_path = output
                elif kind == "summary":
                    return GenerateResult(
                        job_id=job_id,
                        timeline_path=timeline_path,
                        audio_files=receiver.files,
                        problems=problems,
                        summary=event.summary,
                        plan=plan,
                    )
        except BaseException:
            stream.cancel()  # Ctrl-C or a failed check: stop the job on the server too
            raise
        finally:
            stop_watch.set()
            receiver.abandon()
        raise FoleyClientError("the server ended the stream without a summary")


def _relayed(stream: Iterator[Event], on_event: EventCallback | None) -> Iterator[Event]:
    try:
        for event in stream:
            if on_event is not None:
                on_event(event)
            yield event
    except grpc.RpcError as error:
        raise _client_error(error) from None


def _cancel_when_set(call: Any, cancel: threading.Event | None) -> threading.Event:
    """Cancel `call` once `cancel` is set; returns the event that ends the watch."""
    done = threading.Event()
    if cancel is None:
        return done

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(0.1):
                call.cancel()
                return

    threading.Thread(target=watch, name="foley-client-cancel", daemon=True).start()
    return done


def _client_error(error: grpc.RpcError) -> FoleyClientError:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    retry_after_s = None
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == RETRY_AFTER_METADATA_KEY:
            retry_after_s = int(value) / 1000
    name = code.name if code is not None else "ERROR"
    return FoleyClientError(f"{name}: {details}", code, retry_after_s)


def _timeline_source(
    timeline: TimelineInput, timeline_format: str, timeline_name: str = ""
) -> pb.TimelineSource:
    named = {"format": timeline_format, "timeline_name": timeline_name}
    if isinstance(timeline, ServerPath):
        return pb.TimelineSource(path=timeline.path, **named)
    if isinstance(timeline, bytes):
        return pb.TimelineSource(data=timeline, **named)
    path = Path(timeline)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FoleyClientError(f"cannot read timeline {path}: {error.strerror}") from error
    return pb.TimelineSource(data=data, source_name=path.name, **named)


def _read_optional(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise FoleyClientError(f"cannot read {path}: {error.strerror}") from error


class _TimelineReceiver:
    """Reassembles the result timeline from its pieces (ResultTimeline.offset)."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._received = 0

    def add(self, piece: pb.ResultTimeline) -> bool:
        """Take one piece; True once the timeline is complete."""
        if piece.offset != self._received:
            raise FoleyClientError(
                f"result timeline piece at {piece.offset}, expected {self._received}"
            )
        self._pieces.append(piece.data)
        self._received += len(piece.data)
        # Servers before pieces existed sent one message without a total.
        return self._received >= piece.total_size_bytes

    def data(self) -> bytes:
        return b"".join(self._pieces)


class _AudioReceiver:
    """Reassembles inline audio chunks into files under `folder`, checked on completion."""

    def __init__(self, folder: Path, names: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.files: dict[str, ClipAudioFile] = {}
        self._names = dict(names or {})
        self._open: dict[str, tuple[BinaryIO, Path, Any]] = {}

    def chunk(self, chunk: pb.AudioChunk) -> None:
        if chunk.clip_id not in self._open:
            if chunk.offset != 0:
                raise FoleyClientError(f"clip {chunk.clip_id}: audio started at {chunk.offset}")
            self.folder.mkdir(parents=True, exist_ok=True)
            name = _safe_name(self._names.get(chunk.clip_id, chunk.file_name))
            descriptor, temporary = tempfile.mkstemp(
                dir=self.folder, prefix=f".{name}.partial-", suffix=Path(name).suffix
            )
            os.fchmod(descriptor, file_mode())  # mkstemp makes 0600; follow the umask
            self._open[chunk.clip_id] = (
                os.fdopen(descriptor, "wb"),
                Path(temporary),
                hashlib.sha256(),
            )
        file, _, hasher = self._open[chunk.clip_id]
        if chunk.offset != file.tell():
            raise FoleyClientError(
                f"clip {chunk.clip_id}: audio chunk at {chunk.offset}, expected {file.tell()}"
            )
        file.write(chunk.data)
        hasher.update(chunk.data)

    def finish(self, result: pb.ClipResult, *, inline: bool) -> ClipAudioFile:
        if not inline:
            audio = ClipAudioFile(
                result.clip_id,
                Path(result.path),
                result.from_cache,
                result.sha256,
                result.size_bytes,
                result.report,
            )
            self.files[result.clip_id] = audio
            return audio
        if result.clip_id not in self._open:
            if result.size_bytes != 0:
                raise FoleyClientError(f"clip {result.clip_id}: result came without its audio")
            self._open[result.clip_id] = self._empty(result)
        file, temporary, hasher = self._open.pop(result.clip_id)
        size = file.tell()
        file.close()
        if size != result.size_bytes or hasher.hexdigest() != result.sha256:
            temporary.unlink(missing_ok=True)
            raise FoleyClientError(
                f"clip {result.clip_id}: received {size} bytes that do not match the server's "
                f"{result.size_bytes} bytes / SHA-256; try again"
            )
        final = self.folder / _safe_name(self._names.get(result.clip_id, result.file_name))
        os.replace(temporary, final)
        audio = ClipAudioFile(
            result.clip_id, final, result.from_cache, result.sha256, size, result.report
        )
        self.files[result.clip_id] = audio
        return audio

    def _empty(self, result: pb.ClipResult) -> tuple[BinaryIO, Path, Any]:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".empty.partial-")
        os.fchmod(descriptor, file_mode())
        return os.fdopen(descriptor, "wb"), Path(temporary), hashlib.sha256()

    def abandon(self) -> None:
        """Remove files still being received (the stream failed or was cancelled)."""
        for file, temporary, _ in self._open.values():
            file.close()
            temporary.unlink(missing_ok=True)
        self._open.clear()


def _safe_name(name: str) -> str:
    """A server-sent file name reduced to its last component, so it cannot leave the folder."""
    base = Path(name.replace("\\", "/")).name
    if base in ("", ".", ".."):
        raise FoleyClientError(f"the server sent an unusable file name {name!r}")
    return base


def message_to_dict(message: Any) -> dict[str, Any]:
    """A response message as plain JSON-ready data (field names as in the .proto)."""
    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )

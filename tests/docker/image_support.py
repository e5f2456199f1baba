"""What the image tests share: building with images/build.py, a tiny edit to send, running a
container until healthy, and reading the WAVs it returns independently of our writer."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"
IMAGE_NAME = "foley-test"
PRESETS = ("default", "light", "extreme")
SERVED_PRESET = "default"
GRPC_PORT = "50051/tcp"
METRICS_PORT = "9464/tcp"
BUILD_TIMEOUT_S = 1500
HEALTHY_TIMEOUT_S = 180
VIDEO_SECONDS = 2.0
VIDEO_RATE = 24
# Three picture clips, as (media start frame, duration frames, record start frame) at 24 fps.
CLIPS = ((0, 24, 0), (12, 18, 30), (24, 24, 60))


@dataclass(frozen=True)
class Family:
    version: str
    revision: str  # git HEAD when the build started
    tags: dict[str, str]
    report: dict[str, Any]
    log: str
    flavour: str = "cpu"
    build_seconds: float = 0.0


def project_version() -> str:
    document = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(document["project"]["version"])


def run_build_py(*arguments: str, log_file: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(IMAGES_DIR / "build.py"), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=BUILD_TIMEOUT_S,
    )
    log_file.write_text(result.stdout + result.stderr, encoding="utf-8")
    return result


def common_build_arguments(base_image: str, host_ca_bundle: Path | None) -> list[str]:
    arguments = ["--base-image", base_image, "--wheelhouse-from-pip-config"]
    if host_ca_bundle is not None:
        arguments += ["--ca-bundle", str(host_ca_bundle)]
    return arguments


def run_in_image(docker_client: Any, tag: str, *command: str) -> str:
    """Run `command` through the image's entrypoint (which execs non-option commands)."""
    output = docker_client.containers.run(tag, list(command), remove=True, stderr=True)
    return output.decode("utf-8", errors="replace")


def filesystem_layers(docker_client: Any, tag: str) -> list[tuple[str, str]]:
    """(layer digest, instruction) bottom first: history entries that made a filesystem layer
    (the imported base, RUN, COPY), matched in order with the image's RootFS layers."""
    history = reversed(docker_client.api.history(tag))
    instructions = [
        entry["CreatedBy"]
        for entry in history
        if "#(nop)" not in entry["CreatedBy"] or " COPY " in entry["CreatedBy"]
    ]
    digests = docker_client.images.get(tag).attrs["RootFS"]["Layers"]
    assert len(instructions) == len(digests), (instructions, digests)
    return list(zip(digests, instructions, strict=True))


def layer_index(layers: list[tuple[str, str]], destination: str) -> int:
    matches = [i for i, (_, text) in enumerate(layers) if text.endswith(f" in {destination} ")]
    assert len(matches) == 1, f"one layer copying into {destination}: {layers}"
    return matches[0]


def write_test_video(path: Path) -> None:
    """2 s of 64x64 video at 24 fps: a bright square moving across a dark frame."""
    import av
    import numpy as np

    frames = round(VIDEO_SECONDS * VIDEO_RATE)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=VIDEO_RATE)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(frames):
            image = np.full((64, 64, 3), 16, dtype=np.uint8)
            left = index * 48 // frames
            image[24:40, left : left + 16] = 235
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_test_timeline(path: Path, media: Path) -> None:
    """Three picture clips of `media` on V1, with a gap between the first two."""
    import opentimelineio as otio

    rate = VIDEO_RATE
    timeline = otio.schema.Timeline(name="docker-e2e")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    reference = otio.schema.ExternalReference(
        target_url=str(media),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate),
            otio.opentime.RationalTime(round(VIDEO_SECONDS * rate), rate),
        ),
    )
    position = 0
    for index, (media_start, duration, record_start) in enumerate(CLIPS):
        if record_start > position:
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(
                record_start - position, rate)))  # fmt: skip
        track.append(
            otio.schema.Clip(
                name=f"shot{index + 1}",
                media_reference=reference.clone(),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(media_start, rate),
                    otio.opentime.RationalTime(duration, rate),
                ),
            )
        )
        position = record_start + duration
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    bits: int
    frames: int
    peak: int  # largest absolute sample value, in integer PCM units


def read_wav(path: Path) -> WavInfo:
    """The RIFF chunks of a PCM WAV, plain or WAVE_FORMAT_EXTENSIBLE (as Broadcast WAVs with a
    bext chunk are), read independently of the project's writer."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{path} is not a RIFF WAVE file"
    offset, fmt, samples = 12, b"", b""
    while offset + 8 <= len(data):
        chunk_id, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "little"),
        )
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            samples = body
        offset += 8 + size + (size & 1)
    format_tag, channels, sample_rate = struct.unpack_from("<HHI", fmt)
    bits = struct.unpack_from("<H", fmt, 14)[0]
    assert format_tag in (1, 0xFFFE), f"{path}: not integer PCM (format {format_tag:#x})"
    width = bits // 8
    values = [
        int.from_bytes(samples[i : i + width], "little", signed=True)
        for i in range(0, len(samples), width)
    ]
    return WavInfo(
        sample_rate=sample_rate,
        channels=channels,
        bits=bits,
        frames=len(samples) // (width * channels),
        peak=max((abs(value) for value in values), default=0),
    )


@dataclass(frozen=True)
class Served:
    container: Any
    target: str
    media_dir: Path
    out_dir: Path
    timeline: Path


def wait_healthy(container: Any, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    status = "starting"
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            break
        status = container.attrs["State"].get("Health", {}).get("Status", "none")
        if status == "healthy":
            return status
        time.sleep(1.0)
    logs = container.logs(tail=60).decode("utf-8", errors="replace")
    pytest.fail(f"container {container.name} not healthy after {timeout_s:.0f} s "
                f"(status {container.status}/{status}); its log:\n{logs}")  # fmt: skip


@contextmanager
def running_container(
    docker_client: Any,
    tag: str,
    media_dir: Path,
    out_dir: Path,
    serve_options: tuple[str, ...] = (),
) -> Iterator[tuple[Any, str]]:
    """`tag` started as documented (media read-only, /out writable), healthy; yields the
    container and its gRPC address on this host. `serve_options` are passed as the container's
    arguments, which the entrypoint adds to `foley-server serve`'s."""
    container = docker_client.containers.run(
        tag,
        list(serve_options) or None,
        detach=True,
        ports={GRPC_PORT: ("127.0.0.1", None), METRICS_PORT: ("127.0.0.1", None)},
        volumes={
            str(media_dir): {"bind": "/media", "mode": "ro"},
            str(out_dir): {"bind": "/out", "mode": "rw"},
        },
        # The baked check, probed every 2 s instead of 15 s so the test waits less.
        healthcheck={"interval": 2_000_000_000},
        environment={"OMP_NUM_THREADS": "2"},
    )
    try:
        wait_healthy(container, HEALTHY_TIMEOUT_S)
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"][GRPC_PORT][0]["HostPort"]
        yield container, f"127.0.0.1:{port}"
    finally:
        container.remove(force=True)


def media_and_timeline(folder: Path) -> tuple[Path, Path, Path]:
    media_dir, out_dir = folder / "media", folder / "out"
    media_dir.mkdir()
    out_dir.mkdir()
    out_dir.chmod(0o777)  # the image's uid 10001 writes there
    write_test_video(media_dir / "shot.mp4")
    timeline = folder / "edit.otio"
    write_test_timeline(timeline, media_dir / "shot.mp4")
    return media_dir, out_dir, timeline


def read_samples(path: Path) -> Any:
    """The first channel of an integer PCM WAV as float64 in [-1, 1] (numpy), read from the
    RIFF chunks directly."""
    import numpy as np

    data = path.read_bytes()
    offset, fmt, samples = 12, b"", b""
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            samples = body
        offset += 8 + size + (size & 1)
    channels = struct.unpack_from("<H", fmt, 2)[0]
    width = struct.unpack_from("<H", fmt, 14)[0] // 8
    raw = np.frombuffer(samples, dtype=np.uint8).reshape(-1, width)
    # Little-endian signed integers of `width` bytes, sign-extended into int64.
    values = np.zeros(len(raw), dtype=np.int64)
    for byte in range(width):
        values |= raw[:, byte].astype(np.int64) << (8 * byte)
    values = np.where(values >= 1 << (8 * width - 1), values - (1 << (8 * width)), values)
    return values.reshape(-1, channels)[:, 0] / float(1 << (8 * width - 1))

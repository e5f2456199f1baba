"""The image family built for real: three CPU presets with a tiny random checkpoint baked in as
FP16, then one container served and asked for Foley through its mapped port.

The family is built once per session by images/build.py (as `make images` would, with this
machine's CA bundle and its pip find-links wheels, so it builds behind a TLS-intercepting proxy
and without pulling CUDA packages). Later builds reuse every shared layer.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
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

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S)]


@dataclass(frozen=True)
class Family:
    version: str
    revision: str  # git HEAD when the build started
    tags: dict[str, str]
    report: dict[str, Any]
    log: str


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


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny official-layout checkpoint with random weights (`foley-server weights tiny`)."""
    root = tmp_path_factory.mktemp("tiny-weights") / "weights"
    result = subprocess.run(
        [sys.executable, "-m", "plugin_server.cli", "weights", "tiny", str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.fixture(scope="session")
def family(
    base_image: str,
    host_ca_bundle: Path | None,
    tiny_weights: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Family:
    folder = tmp_path_factory.mktemp("family")
    report_file = folder / "report.json"
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    started = time.monotonic()
    result = run_build_py(
        "--name",
        IMAGE_NAME,
        "--weights",
        str(tiny_weights),
        "--report",
        str(report_file),
        *common_build_arguments(base_image, host_ca_bundle),
        log_file=folder / "build.log",
    )
    if result.returncode != 0:
        pytest.fail(f"images/build.py failed ({time.monotonic() - started:.0f} s):\n"
                    + result.stderr[-6000:])  # fmt: skip
    version = project_version()
    return Family(
        version=version,
        revision=head or "unknown",
        tags={preset: f"{IMAGE_NAME}:{version}-{preset}-cpu" for preset in PRESETS},
        report=json.loads(report_file.read_text(encoding="utf-8")),
        log=result.stdout + result.stderr,
    )


def run_in_image(docker_client: Any, tag: str, *command: str) -> str:
    """Run `command` through the image's entrypoint (which execs non-option commands)."""
    output = docker_client.containers.run(tag, list(command), remove=True, stderr=True)
    return output.decode("utf-8", errors="replace")


# -- the build -----------------------------------------------------------------------------------


def test_build_tags_every_preset_and_reports_sizes(family: Family, docker_client: Any) -> None:
    reported = {image["tag"]: image for image in family.report["images"]}
    assert set(reported) == set(family.tags.values())
    for preset, tag in family.tags.items():
        image = docker_client.images.get(tag)
        assert reported[tag]["preset"] == preset
        assert reported[tag]["size_bytes"] == image.attrs["Size"] > 100_000_000
    assert f"{family.tags['default']} " in family.log  # the size table
    assert "Step 1/" in family.log  # the streamed build log


def test_presets_share_every_filesystem_layer(family: Family, docker_client: Any) -> None:
    """The preset lives only in ENV and labels: the three images differ in config alone."""
    layers = {
        preset: docker_client.images.get(tag).attrs["RootFS"]["Layers"]
        for preset, tag in family.tags.items()
    }
    assert layers["light"] == layers["default"] == layers["extreme"]
    ids = {docker_client.images.get(tag).id for tag in family.tags.values()}
    assert len(ids) == 3


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


def test_weights_sit_below_packages_below_code(family: Family, docker_client: Any) -> None:
    layers = filesystem_layers(docker_client, family.tags["default"])
    weights, packages, code = (
        layer_index(layers, path) for path in ("/opt/foley/weights", "/opt/venv", "/opt/foley/app")
    )
    assert weights < packages < code
    sizes = {
        entry["CreatedBy"]: entry["Size"]
        for entry in docker_client.api.history(family.tags["default"])
    }
    assert sizes[layers[weights][1]] > 100_000  # the tiny checkpoint is really there
    assert sizes[layers[packages][1]] > 500_000_000  # torch and friends


def test_a_code_change_reuses_the_weights_and_package_layers(
    family: Family,
    build_module: ModuleType,
    docker_client: Any,
    base_image: str,
    host_ca_bundle: Path | None,
    tiny_weights: Path,
    tmp_path: Path,
) -> None:
    """Rebuilt with a changed server source file, only the code layer and those above it
    change: the weights stage copies only the converter's packages, so it is not run again and
    its output layer is reused, and so is the packages layer. (`family` has built the shared
    layers already.)"""
    name = f"{IMAGE_NAME}-code"
    common = common_build_arguments(base_image, host_ca_bundle)
    arguments = build_module.parse_args(
        ["--name", name, "--preset", "default", "--weights", str(tiny_weights), *common]
    )
    options = build_module.options_from_args(arguments)
    # Both builds from one snapshot of the tree, so that only the change differs between them.
    original = build_module.assemble_context(options, tmp_path / "original")
    shutil.copytree(original.path, tmp_path / "changed")
    changed_file = tmp_path / "changed" / "plugin_server" / "server" / "app.py"
    with changed_file.open("a", encoding="utf-8") as source:
        source.write("\n# a code change\n")
    args = build_module.build_args(options, "default", original)
    tags = {}
    for variant in ("original", "changed"):
        tags[variant] = f"{name}-{variant}:{options.version}-default-cpu"
        build_module.stream_build(
            docker_client, tmp_path / variant, tags[variant], args, no_cache=False, echo=False
        )

    before = filesystem_layers(docker_client, tags["original"])
    after = filesystem_layers(docker_client, tags["changed"])
    code = layer_index(before, "/opt/foley/app")
    assert [digest for digest, _ in after[:code]] == [digest for digest, _ in before[:code]]
    assert after[code][0] != before[code][0]


def test_labels_name_version_revision_source_preset_model_dtype(
    family: Family, docker_client: Any
) -> None:
    for preset, tag in family.tags.items():
        labels = docker_client.images.get(tag).labels
        assert labels["org.opencontainers.image.title"] == f"foley-backend ({preset}, cpu)"
        assert labels["org.opencontainers.image.version"] == family.version
        assert labels["org.opencontainers.image.revision"].startswith(family.revision)
        assert labels["org.opencontainers.image.source"] != ""
        assert labels["io.foley-backend.preset"] == preset
        assert labels["io.foley-backend.flavour"] == "cpu"
        assert labels["io.foley-backend.model"] == "HunyuanVideo-Foley"
        assert labels["io.foley-backend.weights-dtype"] == "fp16"


def test_runtime_is_non_root_with_ports_healthcheck_and_preset(
    family: Family, docker_client: Any
) -> None:
    for preset, tag in family.tags.items():
        config = docker_client.images.get(tag).attrs["Config"]
        assert config["User"] == "10001:10001"
        assert {GRPC_PORT, METRICS_PORT} <= set(config["ExposedPorts"])
        assert config["Healthcheck"]["Test"][-1] == "/opt/foley/bin/healthcheck.py"
        assert config["Entrypoint"] == ["/opt/foley/bin/entrypoint.sh"]
        assert f"FOLEY_PRESET={preset}" in config["Env"]
    identity = run_in_image(docker_client, family.tags["light"], "id", "-u")
    assert identity.strip() == "10001"


def test_baked_weights_are_fp16_safetensors(family: Family, docker_client: Any) -> None:
    # safetensors files start with an 8-byte header length and a JSON header of dtypes.
    probe = (
        "import json, pathlib, struct\n"
        "found = {}\n"
        "for path in sorted(pathlib.Path('/opt/foley/weights').rglob('*.safetensors')):\n"
        "    data = path.open('rb')\n"
        "    size = struct.unpack('<Q', data.read(8))[0]\n"
        "    header = json.loads(data.read(size))\n"
        "    header.pop('__metadata__', None)\n"
        "    found[str(path)] = sorted({v['dtype'] for v in header.values()})\n"
        "print(json.dumps(found))\n"
    )
    output = run_in_image(docker_client, family.tags["extreme"], "python", "-c", probe)
    dtypes = json.loads(output.strip().splitlines()[-1])
    # The networks that run in half precision; the VAE decoder stays float32 by design.
    for name in ("hunyuanvideo_foley", "synchformer_state_dict"):
        kinds = dtypes.get(f"/opt/foley/weights/{name}.safetensors")
        assert kinds == ["F16"], f"{name}.safetensors: {kinds} (all files: {dtypes})"
    assert dtypes["/opt/foley/weights/vae_128d_48k.safetensors"] == ["F32"]


def test_baked_weights_are_readable_but_not_writable_by_the_user(
    family: Family, docker_client: Any
) -> None:
    output = run_in_image(
        docker_client,
        family.tags["light"],
        "sh",
        "-c",
        "echo unreadable: $(find /opt/foley/weights -type f ! -readable);"
        "echo writable: $(find /opt/foley/weights -writable);"
        "echo files: $(find /opt/foley/weights -type f | wc -l)",
    )
    lines = dict(line.split(":", 1) for line in output.strip().splitlines()[-3:])
    assert lines["unreadable"].strip() == ""
    assert lines["writable"].strip() == ""
    assert int(lines["files"]) >= 4  # transformer, Synchformer, VAE, config, encoders


def test_image_carries_every_file_of_the_packages(family: Family, docker_client: Any) -> None:
    """The code is installed as a wheel would be: data files missing from pyproject's
    package-data (presets, calibration tables, ...) would be missing at run time."""
    expected = sorted(
        str(path.relative_to(REPO_ROOT))
        for package in ("plugin_server", "timeline")
        for path in (REPO_ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    listing = run_in_image(
        docker_client,
        family.tags["default"],
        "sh",
        "-c",
        "cd /opt/foley/app && find plugin_server timeline -type f ! -name '*.pyc'",
    )
    installed = set(listing.split())
    missing = [path for path in expected if path not in installed]
    assert missing == [], f"not installed (add them to pyproject's package-data): {missing}"


def test_build_secrets_and_ca_are_not_in_the_runtime_image(
    family: Family, docker_client: Any
) -> None:
    found = run_in_image(
        docker_client,
        family.tags["default"],
        "sh",
        "-c",
        "ls -d /opt/build 2>/dev/null; find / -xdev \\( -name 'extra-ca-*.pem' "
        "-o -name ca-bundle.pem -o -name NO-WEIGHTS \\) 2>/dev/null; echo end",
    )
    assert found.split() == ["end"]


def test_a_failed_build_exits_1_naming_the_step(
    base_image: str, host_ca_bundle: Path | None, tmp_path: Path
) -> None:
    """Offline from an empty wheelhouse, pip cannot install anything: the deps step fails."""
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    result = run_build_py(
        "--name",
        f"{IMAGE_NAME}-broken",
        "--preset",
        "light",
        "--quiet",
        "--wheelhouse-only",
        "--wheelhouse",
        str(empty),
        "--base-image",
        base_image,
        log_file=tmp_path / "build.log",
    )
    assert result.returncode == 1
    version = project_version()
    assert f"{IMAGE_NAME}-broken:{version}-light-cpu: the build failed at step " in result.stderr
    assert "(RUN /opt/build/install-deps.sh)" in result.stderr


# -- a served container ------------------------------------------------------------------------


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
    docker_client: Any, tag: str, media_dir: Path, out_dir: Path
) -> Iterator[tuple[Any, str]]:
    """`tag` started as documented (media read-only, /out writable), healthy; yields the
    container and its gRPC address on this host."""
    container = docker_client.containers.run(
        tag,
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


@pytest.fixture(scope="module")
def served(
    family: Family, docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The default preset's container, healthy, with media mounted read-only."""
    media_dir, out_dir, timeline = media_and_timeline(tmp_path_factory.mktemp("served"))
    with running_container(docker_client, family.tags[SERVED_PRESET], media_dir, out_dir) as (
        container,
        target,
    ):
        yield Served(container, target, media_dir, out_dir, timeline)


def test_capabilities_report_the_baked_model_and_preset(served: Served) -> None:
    from plugin_server.client import FoleyClient

    with FoleyClient(served.target) as client:
        capabilities = client.capabilities()
    engines = {engine.name: engine for engine in capabilities.engines}
    assert capabilities.default_engine == "hunyuan"
    assert engines["hunyuan"].available, engines["hunyuan"].reason
    assert capabilities.default_preset == SERVED_PRESET
    assert capabilities.output_root_configured


def test_generate_foley_through_the_mapped_port(served: Served, tmp_path: Path) -> None:
    import opentimelineio as otio

    from plugin_server.client import FoleyClient, GenerateOptions

    # Every stage of the real engine runs on the baked tiny checkpoint; 4 sampler steps instead
    # of the preset's 100 keep it to seconds on a shared CPU.
    options = GenerateOptions(
        prompt="footsteps on gravel",
        seed=7,
        parameters={"diffusion_timesteps": 4},
        media_maps=[(str(served.media_dir), "/media")],
    )
    output = tmp_path / "edit_foley.otio"
    with FoleyClient(served.target) as client:
        result = client.generate(served.timeline, output, options, timeout_s=600)

    assert [problem.reason for problem in result.problems] == []
    assert result.summary.clips_generated == len(CLIPS)
    assert result.summary.clips_failed == 0
    assert len(result.audio_files) == len(CLIPS)

    expected_frames = sorted(duration * 48_000 // VIDEO_RATE for _, duration, _ in CLIPS)
    measured_frames = []
    for audio in result.audio_files.values():
        assert audio.report.engine == "hunyuan"
        assert audio.report.sample_rate == 48_000
        wav = read_wav(audio.path)
        assert (wav.sample_rate, wav.channels, wav.bits) == (48_000, 1, 24)
        assert wav.peak > 0, f"{audio.path} is silent"
        measured_frames.append(wav.frames)
    assert sorted(measured_frames) == expected_frames

    result_timeline = otio.adapters.read_from_file(str(output))
    audio_clips = [
        clip
        for track in result_timeline.audio_tracks()
        for clip in track.find_clips()
    ]  # fmt: skip
    assert len(audio_clips) == len(CLIPS)
    record_starts = sorted(
        round(clip.range_in_parent().start_time.rescaled_to(VIDEO_RATE).value)
        for clip in audio_clips
    )
    assert record_starts == [record_start for _, _, record_start in CLIPS]
    for clip in audio_clips:
        assert Path(clip.media_reference.target_url.removeprefix("file://")).name in {
            audio.path.name for audio in result.audio_files.values()
        }


# -- without weights ---------------------------------------------------------------------------


def test_image_without_weights_serves_procedural_and_writes_to_out(
    base_image: str,
    host_ca_bundle: Path | None,
    docker_client: Any,
    tmp_path: Path,
) -> None:
    """No --weights: the procedural engine, said so in labels and capabilities; audio written
    under the mounted output folder (output-root delivery)."""
    from plugin_server.client import FoleyClient, GenerateOptions

    name = f"{IMAGE_NAME}-procedural"
    result = run_build_py(
        "--name",
        name,
        "--preset",
        "light",
        "--quiet",
        *common_build_arguments(base_image, host_ca_bundle),
        log_file=tmp_path / "build.log",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    tag = f"{name}:{project_version()}-light-cpu"
    labels = docker_client.images.get(tag).labels
    assert labels["io.foley-backend.model"] == "procedural"
    assert labels["io.foley-backend.weights-dtype"] == "none"

    media_dir, out_dir, timeline = media_and_timeline(tmp_path)
    options = GenerateOptions(media_maps=[(str(media_dir), "/media")], server_output_dir="job1")
    with (
        running_container(docker_client, tag, media_dir, out_dir) as (_, target),
        FoleyClient(target) as client,
    ):
        capabilities = client.capabilities()
        generated = client.generate(timeline, tmp_path / "result.otio", options)
    engines = {engine.name: engine for engine in capabilities.engines}
    assert capabilities.default_engine == "procedural"
    assert capabilities.default_preset == "light"
    assert not engines["hunyuan"].available
    assert "weights" in engines["hunyuan"].reason.lower()
    assert generated.summary.clips_generated == len(CLIPS)
    written = sorted(path.name for path in (out_dir / "job1").rglob("*.wav"))
    assert len(written) == len(CLIPS)
    for audio in generated.audio_files.values():
        assert audio.report.engine == "procedural"
        assert str(audio.path).startswith("/out/job1/")

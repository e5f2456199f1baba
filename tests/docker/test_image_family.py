"""The image family built for real: three CPU presets with a tiny random checkpoint baked in as
FP16, then one container served and asked for Foley through its mapped port.

The family is built once per session by images/build.py (as `make images` would, with this
machine's CA bundle and its pip find-links wheels, so it builds behind a TLS-intercepting proxy
and without pulling CUDA packages). Later builds reuse every shared layer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from image_support import (
    BUILD_TIMEOUT_S,
    CLIPS,
    GRPC_PORT,
    IMAGE_NAME,
    METRICS_PORT,
    REPO_ROOT,
    SERVED_PRESET,
    VIDEO_RATE,
    Family,
    Served,
    common_build_arguments,
    filesystem_layers,
    layer_index,
    media_and_timeline,
    project_version,
    read_samples,
    read_wav,
    run_build_py,
    run_in_image,
    running_container,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S)]


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
    assert "(RUN /opt/build/install-deps.sh torch)" in result.stderr


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


# -- the library engine ------------------------------------------------------------------------

LIBRARY_FPS = 24
LIBRARY_FRAMES = 72
LIBRARY_HITS = (20, 41, 60)  # the disc's wall hits: the events its one-shots must land on


def test_library_engine_in_the_image_places_and_credits_the_mounted_files(
    family: Family, docker_client: Any, tmp_path: Path
) -> None:
    """The CPU image serving `--engine library` from a generated library mounted read-only
    under the media root: capabilities list it, each of the disc's hits holds its chosen
    one-shot (attack within 2 ms), the report and the result timeline credit the files, and
    the index is written under the container's work dir, never into the library."""
    from fractions import Fraction
    from itertools import pairwise

    import opentimelineio as otio

    from plugin_server.client import FoleyClient, GenerateOptions
    from plugin_server.demo.media import BouncingDisc, write_scene_video
    from plugin_server.engines.library.synthetic import find_placement, make_library

    media_dir, out_dir = tmp_path / "media", tmp_path / "out"
    out_dir.mkdir(parents=True)
    out_dir.chmod(0o777)
    library = make_library(media_dir / "SFX", seed=5)
    disc = BouncingDisc(Fraction(LIBRARY_FPS), LIBRARY_FRAMES, LIBRARY_HITS)
    video = write_scene_video(media_dir / "disc.mp4", disc, width=128, height=72)
    # The container runs as uid 10001: every folder and file of the mount must be readable.
    for path in [media_dir, *media_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    library_before = sorted(
        (str(path), path.stat().st_size, path.stat().st_mtime_ns)
        for path in library.root.rglob("*")
    )

    timeline = otio.schema.Timeline(name="docker-library")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(
            name="disc",
            media_reference=otio.schema.ExternalReference(target_url=str(video.path)),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, LIBRARY_FPS),
                otio.opentime.RationalTime(LIBRARY_FRAMES, LIBRARY_FPS),
            ),
        )
    )
    timeline.tracks.append(track)
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline, str(edit))

    options = GenerateOptions(prompt="door slam", seed=4, media_maps=[(str(media_dir), "/media")])
    serve = ("--engine", "library", "--library", "/media/SFX")
    with running_container(
        docker_client, family.tags[SERVED_PRESET], media_dir, out_dir, serve
    ) as (container, target):
        with FoleyClient(target) as client:
            capabilities = client.capabilities()
            generated = client.generate(edit, tmp_path / "edit_foley.otio", options)
        index_listing = container.exec_run(
            ["find", "/var/lib/foley/library", "-name", "index.sqlite*", "-size", "+0"]
        ).output.decode("utf-8", errors="replace")

    engines = {engine.name: engine for engine in capabilities.engines}
    assert capabilities.default_engine == "library"
    assert engines["library"].available, engines["library"].reason
    (listed,) = engines["library"].libraries
    assert listed.path == "/media/SFX"
    assert listed.files == len(library.one_shots) + len(library.beds) == 10
    assert listed.bytes == sum(p.stat().st_size for p in [*library.one_shots, *library.beds])
    assert listed.skipped_files == 0

    assert [problem.reason for problem in generated.problems] == []
    (audio,) = generated.audio_files.values()
    assert audio.report.engine == "library"
    parameters = audio.report.parameters
    assert parameters["fallback"] is None
    events = parameters["events"]
    frame_s = 1 / LIBRARY_FPS
    assert [round(event["time_s"] / frame_s) for event in events] == list(LIBRARY_HITS)

    def on_host(container_path: str) -> Path:
        assert container_path.startswith("/media/SFX/"), container_path
        return media_dir / container_path.removeprefix("/media/")

    samples = read_samples(audio.path)
    assert read_wav(audio.path).sample_rate == 48_000
    for event in events:
        file = on_host(event["file"])
        found = find_placement(samples, 48_000, file, library.one_shots[file], event["time_s"])
        assert found.similarity > 0.9, (file, found)  # that file's waveform...
        assert abs(found.attack_time_s - event["time_s"]) < 0.002, (file, found)  # ...on time
    chosen = [event["file"] for event in events]
    assert all(a != b for a, b in pairwise(chosen))  # never twice in a row

    # Credits: the report and the result timeline name every file used and where.
    placed = sorted((event["file"], event["time_s"]) for event in events)
    credited = sorted(
        (entry["path"], time) for entry in parameters["library_files"] for time in entry["times_s"]
    )
    assert credited == placed
    result = otio.adapters.read_from_file(str(tmp_path / "edit_foley.otio"))
    (foley_clip,) = [
        clip for track in result.audio_tracks() for clip in track.find_clips()
    ]  # fmt: skip
    in_timeline = sorted(
        (str(entry["path"]), float(time))
        for entry in foley_clip.metadata["foley"]["library_files"]
        for time in entry["times_s"]
    )
    assert in_timeline == placed

    # The index lives under the container's work dir; the read-only library is untouched.
    assert "/var/lib/foley/library/index.sqlite" in index_listing.split(), index_listing
    library_after = sorted(
        (str(path), path.stat().st_size, path.stat().st_mtime_ns)
        for path in library.root.rglob("*")
    )
    assert library_after == library_before

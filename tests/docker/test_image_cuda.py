"""The CUDA flavour built for real from Debian and PyPI (no nvidia/cuda base), then run on this
machine, which has no GPU: it must say so, serve on the CPU, and answer exactly as the CPU
flavour does.

The build downloads PyTorch's CUDA wheels from PyPI once (about 2.6 GB); later builds reuse the
PyTorch layer as long as images/lock/cuda.txt is unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from image_support import (
    BUILD_TIMEOUT_S,
    CLIPS,
    VIDEO_RATE,
    Family,
    filesystem_layers,
    layer_index,
    media_and_timeline,
    read_samples,
    read_wav,
    run_in_image,
    running_container,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S)]

COMPARED_PRESET = "light"
SEED = 11


def test_cuda_image_imports_torch_built_for_cuda(cuda_family: Family, docker_client: Any) -> None:
    probe = (
        "import json, torch; print(json.dumps({'version': torch.__version__, "
        "'cuda': torch.version.cuda, 'built': torch.backends.cuda.is_built(), "
        "'cudnn': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() "
        "else None, 'available': torch.cuda.is_available()}))"
    )
    output = run_in_image(docker_client, cuda_family.tags["light"], "python", "-c", probe)
    found = json.loads(output.strip().splitlines()[-1])
    assert re.fullmatch(r"\d+\.\d+", found["cuda"] or ""), found
    assert found["built"] is True
    assert "+cpu" not in found["version"]
    assert found["available"] is False  # no GPU here: the image must still import and serve


def test_cuda_image_stays_under_the_stated_size(
    cuda_family: Family, build_module: Any, docker_client: Any
) -> None:
    reported = {image["tag"]: image for image in cuda_family.report["images"]}
    for tag in cuda_family.tags.values():
        image = reported[tag]
        weights = sum(
            layer["size_bytes"]
            for layer in image["layers"]
            if layer["created_by"].endswith("/opt/foley/weights")
        )
        without_weights = image["size_bytes"] - weights
        assert without_weights < build_module.CUDA_IMAGE_LIMIT_BYTES, (
            f"{tag}: {without_weights / 1e9:.2f} GB without weights, over the "
            f"{build_module.CUDA_IMAGE_LIMIT_BYTES / 1e9:.0f} GB limit"
        )
        assert image["size_bytes"] == docker_client.images.get(tag).attrs["Size"]


def test_presets_share_the_pytorch_layer_and_differ_in_configuration(
    cuda_family: Family, docker_client: Any
) -> None:
    layers = {
        preset: docker_client.images.get(tag).attrs["RootFS"]["Layers"]
        for preset, tag in cuda_family.tags.items()
    }
    assert layers["light"] == layers["extreme"]
    history = filesystem_layers(docker_client, cuda_family.tags["light"])
    torch_layer = layer_index(history, "/opt/torch")
    assert torch_layer < layer_index(history, "/opt/venv") < layer_index(history, "/opt/foley/app")
    # The report states the shared part: here every layer, PyTorch's CUDA wheels the bulk of it.
    report = cuda_family.report
    first = report["images"][0]
    assert report["shared_layers"] == len(first["layers"])
    assert report["shared_bytes"] == sum(layer["size_bytes"] for layer in first["layers"])
    torch_bytes = next(
        layer["size_bytes"]
        for layer in first["layers"]
        if layer["created_by"].endswith("/opt/torch")
    )
    assert torch_bytes > 0.6 * report["shared_bytes"]


def test_no_compilers_headers_or_package_caches_in_the_image(
    cuda_family: Family, docker_client: Any
) -> None:
    output = run_in_image(
        docker_client,
        cuda_family.tags["light"],
        "sh",
        "-c",
        "for tool in gcc cc c++ g++ clang nvcc make; do command -v $tool; done;"
        "find /opt /usr/local /usr/include \\( -name '*.h' -o -name '*.hpp' -o -name '*.cuh' "
        "-o -name '*.a' \\) -type f 2>/dev/null | head -5;"
        "ls -d /root/.cache/pip /home/foley/.cache/pip /opt/build 2>/dev/null; echo end",
    )
    assert output.split() == ["end"]


def test_labels_name_the_oci_source_revision_and_flavour(
    cuda_family: Family, docker_client: Any, build_module: Any
) -> None:
    for preset, tag in cuda_family.tags.items():
        labels = docker_client.images.get(tag).labels
        assert labels["org.opencontainers.image.revision"].startswith(cuda_family.revision)
        assert labels["org.opencontainers.image.source"] == build_module.project_source() != ""
        assert labels["io.foley-backend.flavour"] == "cuda"
        assert labels["io.foley-backend.preset"] == preset


def test_each_image_has_a_cyclonedx_sbom_of_its_environment(cuda_family: Family) -> None:
    for image in cuda_family.report["images"]:
        sbom = json.loads(Path(image["sbom"]).read_text(encoding="utf-8"))
        assert sbom["bomFormat"] == "CycloneDX"
        versions = {component["name"]: component["version"] for component in sbom["components"]}
        assert versions["torch"] == "2.13.0"
        assert "nvidia-cublas" in versions  # /opt/torch is part of the environment it saw
        assert "foley-backend" in versions  # and so is our own code


# -- served without a GPU ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    audio: dict[str, np.ndarray]  # clip name -> samples in [-1, 1]
    record_starts: list[int]
    engines: set[str]
    log: str


def generate(docker_client: Any, tag: str, folder: Path) -> Answer:
    """One tiny request to a fresh container of `tag`: the tiny baked model, 4 steps, SEED."""
    import opentimelineio as otio

    from plugin_server.client import FoleyClient, GenerateOptions

    media_dir, out_dir, timeline = media_and_timeline(folder)
    options = GenerateOptions(
        prompt="footsteps on gravel",
        seed=SEED,
        parameters={"diffusion_timesteps": 4},
        media_maps=[(str(media_dir), "/media")],
    )
    output = folder / "edit_foley.otio"
    with (
        running_container(docker_client, tag, media_dir, out_dir) as (container, target),
        FoleyClient(target) as client,
    ):
        result = client.generate(timeline, output, options, timeout_s=600)
        log = container.logs().decode("utf-8", errors="replace")
    assert result.summary.clips_generated == len(CLIPS), result.problems
    # Clip ids depend on where the media lies; the clip's name in the edit does not.
    names = {clip.clip_id: clip.name for clip in result.plan.clips}
    audio = {}
    for clip_id, generated in result.audio_files.items():
        wav = read_wav(generated.path)
        assert (wav.sample_rate, wav.channels) == (48_000, 1)
        assert wav.peak > 0
        audio[names[clip_id]] = read_samples(generated.path)
    placed = otio.adapters.read_from_file(str(output))
    starts = sorted(
        round(clip.range_in_parent().start_time.rescaled_to(VIDEO_RATE).value)
        for track in placed.audio_tracks()
        for clip in track.find_clips()
    )
    engines = {generated.report.engine for generated in result.audio_files.values()}
    return Answer(audio, starts, engines, log)


@pytest.fixture(scope="module")
def cuda_answer(
    cuda_family: Family, docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Answer]:
    folder = tmp_path_factory.mktemp("cuda-served")
    yield generate(docker_client, cuda_family.tags[COMPARED_PRESET], folder)


def test_without_a_gpu_it_says_so_and_serves_on_the_cpu(cuda_answer: Answer) -> None:
    assert re.search(
        r"PyTorch 2\.13\.0\+cu\d+ \(CUDA \d+\.\d+ build\); NO GPU IS VISIBLE", cuda_answer.log
    )
    assert "serving on the CPU" in cuda_answer.log
    assert re.search(r"devices: cpu: .* GiB free .*; auto -> \w+", cuda_answer.log)


def test_cuda_image_returns_aligned_audio_from_the_baked_model(cuda_answer: Answer) -> None:
    assert cuda_answer.engines == {"hunyuan"}
    assert cuda_answer.record_starts == [record_start for _, _, record_start in CLIPS]
    lengths = sorted(len(samples) for samples in cuda_answer.audio.values())
    assert lengths == sorted(duration * 48_000 // VIDEO_RATE for _, duration, _ in CLIPS)


def test_cpu_and_cuda_flavours_give_the_same_audio_for_the_same_seed(
    cuda_answer: Answer,
    family: Family,
    docker_client: Any,
    tmp_path: Path,
) -> None:
    cpu_answer = generate(docker_client, family.tags[COMPARED_PRESET], tmp_path)
    assert sorted(cpu_answer.audio) == sorted(cuda_answer.audio)
    for clip, cpu_samples in cpu_answer.audio.items():
        cuda_samples = cuda_answer.audio[clip]
        assert cpu_samples.shape == cuda_samples.shape
        difference = float(np.max(np.abs(cpu_samples - cuda_samples)))
        assert difference <= 1e-5, f"{clip}: the flavours differ by {difference:.2e}"

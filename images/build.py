"""Build the foley-backend image family with the Docker SDK: one image per preset.

    python images/build.py                                  # default, light, extreme; CPU
    python images/build.py --preset light --flavour cuda --weights /models/hunyuan --push \\
        --name registry.studio.lan/foley --sbom sboms/
    python images/build.py --base-image foley-base:bookworm-python3.11 \\
        --wheelhouse-from-pip-config --ca-bundle /etc/ssl/certs/ca-certificates.crt

Tags are `<name>:<version>-<preset>-<flavour>` (e.g. `foley:0.1.0-default-cpu`). The build log
is streamed; a failed build exits 1 naming the image, the Dockerfile step and the error. At the
end the images and their sizes are listed (and written as JSON with --report).

The build context is assembled in a temporary folder (see `assemble_context`): the project
source, the hash-pinned lock files of images/lock/ (see images/lock.py), an optional wheelhouse,
extra CA certificates and weights directory. `--write-context DIR` writes it for a plain
`docker build DIR`.

Both flavours build on the same slim Debian Python base: the CUDA flavour's PyTorch wheel from
PyPI carries its CUDA runtime, cuDNN, cuBLAS and NCCL as nvidia-* wheels, and only the host's
driver comes from outside (the NVIDIA Container Toolkit mounts it). `--base-image
nvidia/cuda:...` still works for studios that want NVIDIA's base.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("images.build")

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = REPO_ROOT / "images"
PRESETS = ("default", "light", "extreme")
FLAVOURS = ("cpu", "cuda")
DEFAULT_BASE_IMAGES = {
    "cpu": "python:3.11-slim-bookworm",
    # The same base: PyTorch's CUDA wheels bring the CUDA libraries, the host its driver.
    "cuda": "python:3.11-slim-bookworm",
}
# NVIDIA's runtime base, an option (--base-image) and no longer the default. Its CUDA major
# version must match the lock's torch wheel (PyPI's torch 2.13.0 is built for CUDA 13.0).
NVIDIA_CUDA_BASE = "nvidia/cuda:13.0.2-runtime-ubuntu24.04"
DEFAULT_TORCH_INDEXES = {
    # PyTorch's CPU wheel is not on PyPI (PyPI's Linux torch is the CUDA build).
    "cpu": "https://download.pytorch.org/whl/cpu",
    "cuda": "",
}
LOCK_DIR = IMAGES_DIR / "lock"
# The stated limit for a CUDA-flavour image without weights (tests/docker check it).
CUDA_IMAGE_LIMIT_BYTES = 8 * 10**9
LOCAL_BASE_IMAGE = "foley-base:bookworm-python3.11"
WEIGHTS_DTYPES = ("fp16", "bf16")
# Scripts of images/ that the Dockerfile copies into the image.
IMAGE_SCRIPTS = ("install-deps.sh", "bake-weights.sh", "entrypoint.sh", "healthcheck.py")
# Project files and folders the Dockerfile installs; caches are left out.
PROJECT_FILES = ("pyproject.toml", "README.md")
PROJECT_PACKAGES = ("plugin_server", "timeline")
# Other folders pyproject.toml installs (data-files: the Resolve script).
PROJECT_DATA_DIRS = ("plugins/resolve",)
NO_WEIGHTS_MARKER = "NO-WEIGHTS"
_STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
# Lines of a failed step's output repeated in the error, for --quiet builds and CI logs.
STEP_OUTPUT_LINES = 15


class BuildError(RuntimeError):
    """An image could not be built or pushed; the message names the image, step and cause."""


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides what the family's images contain."""

    name: str
    version: str
    presets: tuple[str, ...]
    flavour: str
    base_image: str
    weights_dir: Path | None
    weights_dtype: str
    wheelhouses: tuple[Path, ...]
    wheelhouse_from_pip_config: bool
    wheelhouse_only: bool
    torch_index_url: str | None
    ca_bundles: tuple[Path, ...]
    revision: str
    created: str
    source: str
    no_cache: bool = False
    push: bool = False
    sbom_dir: Path | None = None

    def tag(self, preset: str) -> str:
        return f"{self.name}:{self.version}-{preset}-{self.flavour}"

    @property
    def model(self) -> str:
        return "HunyuanVideo-Foley" if self.weights_dir else "procedural"


@dataclass(frozen=True)
class ContextSummary:
    """What went into an assembled build context."""

    path: Path
    wheels: tuple[str, ...]
    ca_files: tuple[str, ...]
    weight_files: int
    weight_bytes: int
    torch_index_url: str


@dataclass(frozen=True)
class LayerSize:
    size_bytes: int
    created_by: str
    digest: str = ""


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    image_id: str
    preset: str
    flavour: str
    size_bytes: int
    build_seconds: float
    layers: tuple[LayerSize, ...] = field(default=())
    sbom: str | None = None


def shared_layers(images: list[BuiltImage]) -> tuple[int, int]:
    """(count, bytes) of the filesystem layers every image of the family has, the part a
    registry stores and a host pulls once. With the preset only in configuration, that is all
    of them."""
    if not images:
        return 0, 0
    common = {layer.digest for layer in images[0].layers if layer.digest}
    for image in images[1:]:
        common &= {layer.digest for layer in image.layers}
    shared = [layer for layer in images[0].layers if layer.digest in common]
    return len(shared), sum(layer.size_bytes for layer in shared)


# ---------------------------------------------------------------------------------------------
# Requirements and wheels


def normalized_name(text: str) -> str:
    """PEP 503 name of a requirement string or a wheel's distribution part."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text.strip())
    if match is None:
        raise BuildError(f"cannot read a package name from {text!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def wheel_fits_flavour(wheel: Path, flavour: str) -> bool:
    """False for PyTorch-family wheels built for the other flavour (`+cpu` vs `+cuXXX`)."""
    parts = wheel.name.split("-")
    if len(parts) < 5:
        return False
    local = parts[1].partition("+")[2]
    if flavour == "cuda":
        return local != "cpu"
    return not local.startswith("cu")


def pip_find_links() -> list[Path]:
    """Local folders this machine's pip is configured to take wheels from (find-links)."""
    folders: list[str] = []
    environment = os.environ.get("PIP_FIND_LINKS", "")
    folders.extend(environment.split())
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            folders.extend(value.strip().strip("'\"").split())
    paths: list[Path] = []
    for folder in folders:
        path = Path(folder.removeprefix("file://"))
        if path.is_dir() and path not in paths:
            paths.append(path)
    return paths


def locked_pins(flavour: str) -> dict[str, list[Any]]:
    """{"common": pins, "torch": pins} of images/lock for `flavour`; BuildError when stale."""
    lock = _lock_module()
    try:
        problems = lock.check(LOCK_DIR)
        if problems:
            raise BuildError(
                "images/lock/ no longer matches pyproject.toml ("
                + "; ".join(problems[:3])
                + "): run `python images/lock.py` and commit the result"
            )
        return {
            "common": lock.read_lock(LOCK_DIR / "common.txt"),
            "torch": lock.read_lock(LOCK_DIR / f"{flavour}.txt"),
        }
    except lock.LockError as error:
        raise BuildError(str(error)) from error


def _lock_module() -> Any:
    """images/lock.py, loaded from its path (images/ is not a package)."""
    import importlib.util

    name = "foley_images_lock"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, IMAGES_DIR / "lock.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def select_wheels(options: BuildOptions, requirement_names: set[str]) -> list[Path]:
    """Wheels for the context: all of each --wheelhouse, the requirements' from pip's config."""
    chosen: dict[str, Path] = {}
    for folder in options.wheelhouses:
        if not folder.is_dir():
            raise BuildError(f"--wheelhouse {folder}: not a folder")
        for wheel in sorted(folder.glob("*.whl")):
            if wheel_fits_flavour(wheel, options.flavour):
                chosen.setdefault(wheel.name, wheel)
    if options.wheelhouse_from_pip_config:
        for folder in pip_find_links():
            for wheel in sorted(folder.glob("*.whl")):
                if normalized_name(wheel.name.split("-")[0]) not in requirement_names:
                    continue
                if wheel_fits_flavour(wheel, options.flavour):
                    chosen.setdefault(wheel.name, wheel)
    return list(chosen.values())


# ---------------------------------------------------------------------------------------------
# Build context


def _link_or_copy(source: Path, destination: Path) -> None:
    """Hard-link where possible: weights and wheels can be gigabytes."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def assemble_context(options: BuildOptions, destination: Path) -> ContextSummary:
    """Write the build context the Dockerfile expects into `destination` (an empty folder).

    Layout: Dockerfile, pyproject.toml, README.md, plugin_server/, timeline/, images/<scripts>,
    build/lock/common.txt, build/lock/torch.txt (the flavour's), build/wheelhouse/*.whl,
    build/certs/*.pem, build/weights/...
    """
    destination.mkdir(parents=True, exist_ok=True)
    if any(destination.iterdir()):
        raise BuildError(f"{destination}: the build context folder must be empty")
    shutil.copy2(IMAGES_DIR / "Dockerfile", destination / "Dockerfile")
    (destination / "images").mkdir()
    for script in IMAGE_SCRIPTS:
        shutil.copy2(IMAGES_DIR / script, destination / "images" / script)
    for name in PROJECT_FILES:
        if (REPO_ROOT / name).is_file():
            shutil.copy2(REPO_ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    for folder in (*PROJECT_PACKAGES, *PROJECT_DATA_DIRS):
        shutil.copytree(REPO_ROOT / folder, destination / folder, ignore=ignore)

    build = destination / "build"
    pins = locked_pins(options.flavour)
    (build / "wheelhouse").mkdir(parents=True)
    (build / "lock").mkdir()
    shutil.copyfile(LOCK_DIR / "common.txt", build / "lock" / "common.txt")
    shutil.copyfile(LOCK_DIR / f"{options.flavour}.txt", build / "lock" / "torch.txt")

    wheels = select_wheels(options, {pin.name for part in pins.values() for pin in part})
    for wheel in wheels:
        _link_or_copy(wheel, build / "wheelhouse" / wheel.name)
    (build / "wheelhouse" / "README").write_text(
        "Wheels pip prefers over the index (pip --find-links).\n", encoding="utf-8"
    )

    certs = build / "certs"
    certs.mkdir()
    ca_files = []
    for index, bundle in enumerate(options.ca_bundles):
        if not bundle.is_file():
            raise BuildError(f"--ca-bundle {bundle}: no such file")
        text = bundle.read_text(encoding="ascii", errors="replace")
        if "BEGIN CERTIFICATE" not in text:
            raise BuildError(f"--ca-bundle {bundle}: holds no PEM certificate")
        name = f"extra-ca-{index}.pem"
        shutil.copyfile(bundle, certs / name)
        ca_files.append(str(bundle))
    (certs / "README").write_text(
        "Extra CA certificates (*.pem) pip trusts in the build stage only.\n", encoding="utf-8"
    )

    weights = build / "weights"
    weights.mkdir()
    weight_files = 0
    weight_bytes = 0
    if options.weights_dir is not None:
        if not options.weights_dir.is_dir():
            raise BuildError(f"--weights {options.weights_dir}: not a folder")
        for source in sorted(options.weights_dir.rglob("*")):
            if source.is_file():
                _link_or_copy(source, weights / source.relative_to(options.weights_dir))
                weight_files += 1
                weight_bytes += source.stat().st_size
        if weight_files == 0:
            raise BuildError(f"--weights {options.weights_dir}: the folder holds no files")
    else:
        (weights / NO_WEIGHTS_MARKER).write_text(
            "No weights: the image serves the procedural engine.\n", encoding="utf-8"
        )

    return ContextSummary(
        path=destination,
        wheels=tuple(wheel.name for wheel in wheels),
        ca_files=tuple(ca_files),
        weight_files=weight_files,
        weight_bytes=weight_bytes,
        torch_index_url=effective_torch_index(options, wheels),
    )


def effective_torch_index(options: BuildOptions, wheels: Iterable[Path]) -> str:
    """The extra index pip gets: none offline or when the wheelhouse already has torch."""
    if options.wheelhouse_only:
        return ""
    if options.torch_index_url is not None:
        return options.torch_index_url
    if any(normalized_name(wheel.name.split("-")[0]) == "torch" for wheel in wheels):
        return ""
    return DEFAULT_TORCH_INDEXES[options.flavour]


def build_args(options: BuildOptions, preset: str, context: ContextSummary) -> dict[str, str]:
    return {
        "BASE_IMAGE": options.base_image,
        "FLAVOUR": options.flavour,
        "WHEELHOUSE_ONLY": "1" if options.wheelhouse_only else "0",
        "TORCH_INDEX_URL": context.torch_index_url,
        "WEIGHTS_DTYPE": options.weights_dtype if options.weights_dir else "none",
        "MODEL": options.model,
        "VERSION": options.version,
        "REVISION": options.revision,
        "SOURCE": options.source,
        "CREATED": options.created,
        "PRESET": preset,
    }


# ---------------------------------------------------------------------------------------------
# Docker


def docker_client():  # type: ignore[no-untyped-def]
    """A Docker client with no read timeout: a long RUN step (weights) may print nothing."""
    import docker  # the SDK is needed only to build, not to write a context

    try:
        client = docker.from_env(timeout=3600)
        client.ping()
    except docker.errors.DockerException as error:
        raise BuildError(
            f"no Docker engine reachable ({error}); start dockerd or set DOCKER_HOST"
        ) from error
    return client


def ensure_base_image(client: Any, base_image: str) -> None:
    """Pull the base image if it is not local; fail early with what to do when it can't be."""
    import docker

    try:
        client.images.get(base_image)
        return
    except docker.errors.ImageNotFound:
        pass
    log.info("pulling base image %s", base_image)
    try:
        client.images.pull(base_image)
    except docker.errors.APIError as error:
        raise BuildError(
            f"base image {base_image} is not local and cannot be pulled ({error.explanation}); "
            f"without Docker Hub, run images/bootstrap-base.sh and pass "
            f"--base-image {LOCAL_BASE_IMAGE}, or point --base-image at your registry's mirror"
        ) from error


def stream_build(
    client: Any, context: Path, tag: str, args: dict[str, str], *, no_cache: bool, echo: bool
) -> str:
    """Build `tag` from `context`, echoing the log; return the image id or raise BuildError."""
    step = "before the first step"
    step_output: deque[str] = deque(maxlen=STEP_OUTPUT_LINES)
    image_id = ""
    output: Iterator[dict[str, Any]] = client.api.build(
        path=str(context),
        tag=tag,
        buildargs=args,
        target="runtime",
        rm=True,
        forcerm=True,
        nocache=no_cache,
        decode=True,
    )
    for chunk in output:
        if "stream" in chunk:
            text = chunk["stream"]
            for line in text.splitlines():
                match = _STEP.match(line.strip())
                if match:
                    step = f"step {match.group(1)} ({match.group(2)})"
                    step_output.clear()
                elif line.strip() and not line.startswith(" ---> "):
                    step_output.append(line.rstrip())
            if echo:
                sys.stdout.write(text)
                sys.stdout.flush()
        elif "error" in chunk:
            message = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            last_lines = "".join(f"\n  | {line}" for line in step_output)
            raise BuildError(
                f"{tag}: the build failed at {step}: {message.strip()}"
                + (f"\nlast output of that step:{last_lines}" if last_lines else "")
            )
        elif "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    if not image_id:
        raise BuildError(f"{tag}: the build ended at {step} without producing an image")
    return image_id


def push_image(client: Any, tag: str) -> None:
    repository, _, version = tag.rpartition(":")
    log.info("pushing %s", tag)
    for chunk in client.api.push(repository, tag=version, stream=True, decode=True):
        if "error" in chunk:
            raise BuildError(f"{tag}: push failed: {chunk['error']}")
        if "status" in chunk and "id" not in chunk:
            log.info("%s: %s", tag, chunk["status"])


def layer_sizes(client: Any, tag: str) -> tuple[LayerSize, ...]:
    """The image's filesystem layers, bottom first, each with its size, the instruction that
    made it and its RootFS digest.

    History entries that made a filesystem layer (the base, RUN, COPY; not ENV or LABEL) are
    matched in order with the image's RootFS layers.
    """
    history = list(reversed(client.api.history(tag)))
    makers = [
        entry for entry in history
        if "#(nop)" not in entry["CreatedBy"] or " COPY " in entry["CreatedBy"]
    ]  # fmt: skip
    digests = client.images.get(tag).attrs["RootFS"]["Layers"]
    if len(makers) != len(digests):
        # An engine whose history does not line up (squashed images): sizes without digests.
        makers = [entry for entry in history if int(entry["Size"]) > 0]
        digests = [""] * len(makers)
    return tuple(
        LayerSize(int(entry["Size"]), _instruction(entry["CreatedBy"]), digest)
        for entry, digest in zip(makers, digests, strict=True)
    )


def _instruction(created_by: str) -> str:
    """A history entry as a short Dockerfile line: `COPY -> /opt/venv`, `RUN mkdir ...`."""
    text = created_by.strip()
    if not text:
        return "(base image)"
    if "#(nop)" in text:
        text = text.partition("#(nop)")[2].strip()
        copy = re.match(r"(COPY|ADD) \S+ in (\S+)", text)
        if copy:
            text = f"{copy.group(1)} -> {copy.group(2)}"
    elif text:
        text = "RUN " + re.sub(r"^\S*sh( -\w+)* -c ", "", text)
    text = " ".join(text.split())
    return text if len(text) <= 90 else text[:87] + "..."


# ---------------------------------------------------------------------------------------------
# SBOM

CYCLONEDX_REQUIREMENT = "cyclonedx-bom==7.5.0"
# The image's Python runs the SBOM tool from a read-only mount: nothing is added to the image,
# and the tool reads the environment exactly as the server will see it (/opt/torch included).
_SBOM_RUNNER = (
    "import runpy, sys; sys.path.insert(0, '/sbom-tool'); "
    "sys.argv = ['cyclonedx-py', 'environment', '--output-format', 'JSON', "
    "'--output-reproducible', '--output-file', '/sbom-out/sbom.json', '/opt/venv/bin/python']; "
    "runpy.run_module('cyclonedx_py', run_name='__main__')"
)


def sbom_tool_dir(ca_bundles: tuple[Path, ...]) -> Path:
    """cyclonedx-bom installed once into a cache folder on this host (pip --target)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "foley-images"
    folder = cache / CYCLONEDX_REQUIREMENT.replace("==", "-")
    if (folder / "cyclonedx_py").is_dir():
        return folder
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", str(folder), CYCLONEDX_REQUIREMENT]  # fmt: skip
    for bundle in ca_bundles:
        command += ["--cert", str(bundle)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(
            f"cannot install {CYCLONEDX_REQUIREMENT} for the SBOM: {result.stderr.strip()[-800:]}"
        )
    return folder


def write_sbom(client: Any, tag: str, destination: Path, tool: Path) -> Path:
    """A CycloneDX JSON SBOM of the image's Python environment, at destination/<tag>.cdx.json."""
    import docker

    # The SBOM goes through a file, not the container's log (which may cut long output).
    with tempfile.TemporaryDirectory(prefix="foley-sbom-") as folder:
        os.chmod(folder, 0o777)  # the image's user (uid 10001) writes there
        try:
            client.containers.run(
                tag,
                ["python", "-c", _SBOM_RUNNER],
                remove=True,
                stdout=False,
                stderr=True,
                volumes={
                    str(tool): {"bind": "/sbom-tool", "mode": "ro"},
                    folder: {"bind": "/sbom-out", "mode": "rw"},
                },
                network_disabled=True,
            )
        except docker.errors.ContainerError as error:
            raise BuildError(f"{tag}: the SBOM tool failed: {error.stderr!r}") from error
        try:
            document = json.loads((Path(folder) / "sbom.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise BuildError(f"{tag}: the SBOM tool wrote no JSON ({error})") from error
    destination.mkdir(parents=True, exist_ok=True)
    path = destination / (tag.replace("/", "_").replace(":", "_") + ".cdx.json")
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    temporary.replace(path)
    log.info("%s: SBOM with %d components in %s", tag, len(document.get("components", [])), path)
    return path


def build_family(options: BuildOptions, *, echo: bool = True) -> list[BuiltImage]:
    """Build (and optionally push) one image per preset; the shared layers are built once."""
    client = docker_client()
    ensure_base_image(client, options.base_image)
    built: list[BuiltImage] = []
    with tempfile.TemporaryDirectory(prefix="foley-image-context-") as folder:
        context = assemble_context(options, Path(folder) / "context")
        log.info(
            "context: %d wheel(s) %s, %d CA file(s), %d weight file(s) (%.1f MB), torch index %s",
            len(context.wheels),
            ", ".join(context.wheels) or "-",
            len(context.ca_files),
            context.weight_files,
            context.weight_bytes / 1e6,
            context.torch_index_url or "none",
        )
        for index, preset in enumerate(options.presets):
            tag = options.tag(preset)
            log.info("building %s from base %s", tag, options.base_image)
            started = time.monotonic()
            image_id = stream_build(
                client,
                context.path,
                tag,
                build_args(options, preset, context),
                # --no-cache rebuilds the shared layers once; later presets reuse them.
                no_cache=options.no_cache and index == 0,
                echo=echo,
            )
            seconds = time.monotonic() - started
            image = client.images.get(tag)
            built.append(
                BuiltImage(
                    tag=tag,
                    image_id=image_id,
                    preset=preset,
                    flavour=options.flavour,
                    size_bytes=int(image.attrs["Size"]),
                    build_seconds=round(seconds, 1),
                    layers=layer_sizes(client, tag),
                )
            )
            log.info("built %s (%s) in %.0f s", tag, image_id[:19], seconds)
    if options.sbom_dir is not None:
        tool = sbom_tool_dir(options.ca_bundles)
        built = [
            replace(image, sbom=str(write_sbom(client, image.tag, options.sbom_dir, tool)))
            for image in built
        ]
    if options.push:
        for image in built:
            push_image(client, image.tag)
    return built


# ---------------------------------------------------------------------------------------------
# Command line


def git_output(*arguments: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *arguments],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def project_version() -> str:
    document = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(document["project"]["version"])


def project_source() -> str:
    document = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    urls = document["project"].get("urls", {})
    for key in ("Source", "Repository", "Homepage"):
        if key in urls:
            return str(urls[key])
    return git_output("config", "--get", "remote.origin.url") or "unknown"


def revision() -> str:
    commit = git_output("rev-parse", "HEAD") or "unknown"
    dirty = git_output("status", "--porcelain", "--untracked-files=no")
    return f"{commit}-dirty" if dirty and commit != "unknown" else commit


def created_time() -> str:
    """The commit's time, so that rebuilding an unchanged commit gives identical labels."""
    committed = git_output("log", "-1", "--format=%cI")
    return committed or datetime.now(UTC).replace(microsecond=0).isoformat()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="images/build.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--name", default="foley", help="image repository, may include a registry")
    parser.add_argument("--version", default=None, help="tag version (default: pyproject's)")
    parser.add_argument(
        "--preset", dest="presets", action="append", choices=PRESETS,
        help="preset to build; repeat for several (default: all three)",
    )  # fmt: skip
    parser.add_argument("--flavour", choices=FLAVOURS, default="cpu")
    parser.add_argument(
        "--base-image",
        default=None,
        help=f"base image (default: {DEFAULT_BASE_IMAGES['cpu']} for cpu, "
        f"{DEFAULT_BASE_IMAGES['cuda']} for cuda; {LOCAL_BASE_IMAGE} is what "
        "images/bootstrap-base.sh builds without Docker Hub)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="weights folder to bake in")
    parser.add_argument("--weights-dtype", choices=WEIGHTS_DTYPES, default="fp16")
    parser.add_argument(
        "--wheelhouse", type=Path, action="append", default=[],
        help="folder of wheels pip prefers (e.g. a CPU torch wheel); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--wheelhouse-from-pip-config",
        action="store_true",
        help="also take the requirements' wheels from this machine's pip find-links folders",
    )
    parser.add_argument(
        "--wheelhouse-only",
        action="store_true",
        help="install from the wheelhouse alone (offline; it must hold every requirement)",
    )
    parser.add_argument(
        "--torch-index-url",
        default=None,
        help="extra index for PyTorch wheels; '' for none (default: PyTorch's index for the "
        "flavour, unless the wheelhouse holds torch)",
    )
    parser.add_argument(
        "--ca-bundle", type=Path, action="append", default=[],
        help="extra CA certificates (PEM) pip trusts while building, for TLS-intercepting "
        "proxies; not kept in the image; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild every layer (once: the other presets reuse the fresh shared layers)",
    )
    parser.add_argument("--push", action="store_true", help="push the tags after building")
    parser.add_argument(
        "--sbom", type=Path, default=None, metavar="DIR",
        help="write a CycloneDX SBOM of each image's Python environment into DIR",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="do not echo the build log")
    parser.add_argument("--report", type=Path, default=None, help="write a JSON report here")
    parser.add_argument(
        "--write-context",
        type=Path,
        default=None,
        metavar="DIR",
        help="only write the build context (for the first preset's args) into DIR and exit",
    )
    return parser.parse_args(argv)


def options_from_args(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions(
        name=args.name,
        version=args.version or project_version(),
        presets=tuple(args.presets or PRESETS),
        flavour=args.flavour,
        base_image=args.base_image or DEFAULT_BASE_IMAGES[args.flavour],
        weights_dir=args.weights.resolve() if args.weights else None,
        weights_dtype=args.weights_dtype,
        wheelhouses=tuple(path.resolve() for path in args.wheelhouse),
        wheelhouse_from_pip_config=args.wheelhouse_from_pip_config,
        wheelhouse_only=args.wheelhouse_only,
        torch_index_url=args.torch_index_url,
        ca_bundles=tuple(path.resolve() for path in args.ca_bundle),
        revision=revision(),
        created=created_time(),
        source=project_source(),
        no_cache=args.no_cache,
        push=args.push,
        sbom_dir=args.sbom.resolve() if args.sbom else None,
    )


def size_table(images: list[BuiltImage]) -> str:
    lines = [f"{'image':<44} {'size':>10}  {'build':>7}"]
    for image in images:
        lines.append(
            f"{image.tag:<44} {image.size_bytes / 1e6:>7.0f} MB  {image.build_seconds:>5.0f} s"
        )
    if images:
        count, shared = shared_layers(images)
        lines.append(f"shared by all {len(images)}: {count} layers, {shared / 1e6:.0f} MB")
        lines.append(f"layers of {images[0].tag} (bottom first):")
        for layer in images[0].layers:
            lines.append(f"  {layer.size_bytes / 1e6:>9.1f} MB  {layer.created_by}")
    return "\n".join(lines)


def write_report(path: Path, options: BuildOptions, images: list[BuiltImage]) -> None:
    report = {
        "base_image": options.base_image,
        "flavour": options.flavour,
        "model": options.model,
        "revision": options.revision,
        "host": {"machine": platform.machine(), "cpus": os.cpu_count()},
        "images": [asdict(image) for image in images],
    }
    count, shared = shared_layers(images)
    report["shared_layers"] = count
    report["shared_bytes"] = shared
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="build: %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    try:
        options = options_from_args(args)
        if args.write_context is not None:
            context = assemble_context(options, args.write_context)
            arguments = build_args(options, options.presets[0], context)
            flags = " ".join(f"--build-arg {key}={value!r}" for key, value in arguments.items())
            print(f"docker build --target runtime {flags} {context.path}")
            return 0
        images = build_family(options, echo=not args.quiet)
    except BuildError as error:
        log.error("%s", error)
        return 1
    print(size_table(images))
    if args.report is not None:
        write_report(args.report, options, images)
    return 0


if __name__ == "__main__":
    sys.exit(main())

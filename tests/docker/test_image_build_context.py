"""images/build.py without an engine: requirements, wheel choice, context layout, CLI errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"
FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def make_options(build: ModuleType, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "name": "foley-test",
        "version": "9.9.9",
        "presets": ("default",),
        "flavour": "cpu",
        "base_image": "example.invalid/python:3.11",
        "weights_dir": None,
        "weights_dtype": "fp16",
        "wheelhouses": (),
        "wheelhouse_from_pip_config": False,
        "wheelhouse_only": False,
        "torch_index_url": None,
        "ca_bundles": (),
        "revision": "0" * 40,
        "created": "2025-01-01T00:00:00+00:00",
        "source": "https://example.invalid/foley",
    }
    values.update(overrides)
    return build.BuildOptions(**values)


def touch_wheel(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: enough for a file listing
    return path


@pytest.mark.parametrize(
    ("wheel", "flavour", "fits"),
    [
        ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "cpu", True),
        ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "cuda", False),
        ("torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl", "cpu", False),
        ("torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl", "cuda", True),
        ("numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl", "cpu", True),
        ("numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl", "cuda", True),
        ("not-a-wheel.whl", "cpu", False),
    ],
)
def test_wheels_of_the_other_flavour_are_left_out(build_module, wheel, flavour, fits) -> None:
    assert build_module.wheel_fits_flavour(Path(wheel), flavour) is fits


def test_pip_config_wheelhouse_gives_only_the_requirements_wheels(
    build_module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "find-links"
    touch_wheel(folder, "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
    touch_wheel(folder, "torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl")
    touch_wheel(folder, "leftpad-1.0-py3-none-any.whl")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    options = make_options(build_module, wheelhouse_from_pip_config=True)
    chosen = build_module.select_wheels(options, {"torch", "numpy"})
    assert [wheel.name for wheel in chosen] == [
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    ]


def test_torch_index_is_skipped_when_the_wheelhouse_has_torch(build_module) -> None:
    torch_wheel = Path("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
    online = make_options(build_module)
    assert (
        build_module.effective_torch_index(online, []) == build_module.DEFAULT_TORCH_INDEXES["cpu"]
    )
    assert build_module.effective_torch_index(online, [torch_wheel]) == ""
    offline = make_options(build_module, wheelhouse_only=True)
    assert build_module.effective_torch_index(offline, []) == ""
    chosen = make_options(build_module, torch_index_url="https://mirror.invalid/torch")
    assert build_module.effective_torch_index(chosen, [torch_wheel]) == (
        "https://mirror.invalid/torch"
    )


def test_context_without_weights_has_the_marker_and_no_caches(build_module, tmp_path: Path) -> None:
    context = build_module.assemble_context(make_options(build_module), tmp_path / "ctx")
    root = context.path
    assert (root / "Dockerfile").read_bytes() == (IMAGES_DIR / "Dockerfile").read_bytes()
    for script in build_module.IMAGE_SCRIPTS:
        assert (root / "images" / script).is_file()
    assert (root / "pyproject.toml").is_file()
    assert (root / "plugin_server" / "cli.py").is_file()
    assert (root / "timeline" / "records.py").is_file()
    assert list(root.rglob("__pycache__")) == []
    assert (root / "build" / "weights" / build_module.NO_WEIGHTS_MARKER).is_file()
    assert context.weight_files == 0
    # The lock, split so that the PyTorch layer depends on the flavour's torch lock alone.
    common = (root / "build" / "lock" / "common.txt").read_text(encoding="utf-8")
    torch_lock = (root / "build" / "lock" / "torch.txt").read_text(encoding="utf-8")
    assert common == (IMAGES_DIR / "lock" / "common.txt").read_text(encoding="utf-8")
    assert torch_lock == (IMAGES_DIR / "lock" / "cpu.txt").read_text(encoding="utf-8")
    assert "\nsetuptools==" in common  # the code installs offline, without build isolation
    assert "torch==" in torch_lock and "torch==" not in common
    args = build_module.build_args(make_options(build_module), "light", context)
    assert args["PRESET"] == "light"
    assert args["WEIGHTS_DTYPE"] == "none"
    assert args["MODEL"] == "procedural"


def test_context_carries_weights_tree_and_extra_ca(build_module, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    (weights / "vae").mkdir(parents=True)
    (weights / "model.pth").write_bytes(b"\x00" * 1000)
    (weights / "vae" / "config.yaml").write_text("sample_rate: 48000\n", encoding="utf-8")
    ca = tmp_path / "proxy-ca.crt"
    ca.write_text(FAKE_CA, encoding="ascii")
    options = make_options(build_module, weights_dir=weights, ca_bundles=(ca,))
    context = build_module.assemble_context(options, tmp_path / "ctx")
    baked = context.path / "build" / "weights"
    assert (baked / "model.pth").stat().st_size == 1000
    assert (baked / "vae" / "config.yaml").read_text(encoding="utf-8") == "sample_rate: 48000\n"
    assert not (baked / build_module.NO_WEIGHTS_MARKER).exists()
    assert (context.weight_files, context.weight_bytes) == (2, 1000 + 19)
    assert (context.path / "build" / "certs" / "extra-ca-0.pem").read_text() == FAKE_CA
    args = build_module.build_args(options, "extreme", context)
    assert (args["WEIGHTS_DTYPE"], args["MODEL"]) == ("fp16", "HunyuanVideo-Foley")


def test_a_file_that_is_not_pem_is_refused_as_ca_bundle(build_module, tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a")
    options = make_options(build_module, ca_bundles=(not_pem,))
    with pytest.raises(build_module.BuildError, match=r"ca\.der: holds no PEM"):
        build_module.assemble_context(options, tmp_path / "ctx")


def test_tags_name_version_preset_and_flavour(build_module) -> None:
    options = make_options(build_module, name="registry.invalid/studio/foley", flavour="cuda")
    assert options.tag("light") == "registry.invalid/studio/foley:9.9.9-light-cuda"


def _run_build_py(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(IMAGES_DIR / "build.py"), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_write_context_prints_a_plain_docker_build(tmp_path: Path) -> None:
    result = _run_build_py("--write-context", str(tmp_path / "ctx"), "--preset", "light")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("docker build --target runtime ")
    assert "--build-arg PRESET='light'" in result.stdout
    assert (tmp_path / "ctx" / "build" / "lock" / "torch.txt").is_file()


def test_missing_weights_folder_exits_1_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-weights"
    result = _run_build_py("--write-context", str(tmp_path / "ctx"), "--weights", str(missing))
    assert result.returncode == 1
    assert f"--weights {missing}: not a folder" in result.stderr


def test_cuda_flavour_builds_on_the_same_debian_base_from_pypi(build_module, tmp_path) -> None:
    """No nvidia/cuda base and no PyTorch index: PyPI's torch wheel is the CUDA build."""
    options = build_module.options_from_args(build_module.parse_args(["--flavour", "cuda"]))
    assert options.base_image == build_module.DEFAULT_BASE_IMAGES["cpu"]
    assert options.presets == ("default", "light", "extreme")
    assert options.tag("extreme").endswith("-extreme-cuda")
    assert build_module.effective_torch_index(options, []) == ""
    context = build_module.assemble_context(options, tmp_path / "ctx")
    torch_lock = (context.path / "build" / "lock" / "torch.txt").read_text(encoding="utf-8")
    assert torch_lock == (IMAGES_DIR / "lock" / "cuda.txt").read_text(encoding="utf-8")
    assert "\nnvidia-cublas==" in torch_lock and "\ntorch==" in torch_lock
    assert "+cpu" not in torch_lock


def test_nvidia_cuda_base_is_still_an_option(build_module) -> None:
    arguments = ["--flavour", "cuda", "--base-image", build_module.NVIDIA_CUDA_BASE]
    options = build_module.options_from_args(build_module.parse_args(arguments))
    assert options.base_image.startswith("nvidia/cuda:") and "-runtime-" in options.base_image
    # The base's CUDA major version matches the one the locked torch wheel was built for.
    cuda_major = options.base_image.split(":")[1].split(".")[0]
    cuda_lock = (IMAGES_DIR / "lock" / "cuda.txt").read_text(encoding="utf-8")
    assert f"nvidia-cuda-runtime=={cuda_major}." in cuda_lock


def test_a_stale_lock_is_refused_naming_the_fix(build_module, tmp_path, monkeypatch) -> None:
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    for part in ("common", "cpu", "cuda"):
        text = (IMAGES_DIR / "lock" / f"{part}.txt").read_text(encoding="utf-8")
        if part == "common":  # drop one pinned package that pyproject asks for
            text = re.sub(r"\npyyaml==[^\n]*(\n +--hash[^\n]*)*", "", text)
        (lock_dir / f"{part}.txt").write_text(text, encoding="utf-8")
    monkeypatch.setattr(build_module, "LOCK_DIR", lock_dir)
    with pytest.raises(build_module.BuildError, match=r"python images/lock.py.*|pyyaml"):
        build_module.assemble_context(make_options(build_module), tmp_path / "ctx")

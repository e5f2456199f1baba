"""`weights verify`: check a weights directory part by part and list everything wrong.

Each part is checked on its own, so one missing file does not hide the problems of the others:
the config YAML parses; the transformer's keys and shapes equal the manifest built from that
config; Synchformer's visual keys and the DAC-VAE's keys fit the networks their shapes and
kwargs describe; the SigLIP2 and CLAP folders hold a config, weights and (CLAP) a tokenizer;
the widths of the parts fit together; and, when `SHA256SUMS` is present, every file's checksum.
Only tensor shapes are read (memory-mapped), never the weights themselves, except the DAC file
whose kwargs sit beside its tensors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plugin_server.engines.hunyuan.checkpoint import (
    TensorInfo,
    WeightsError,
    load_vae_checkpoint,
    tensor_infos,
)
from plugin_server.engines.hunyuan.config import (
    ModelConfig,
    ModelConfigError,
    check_against_checkpoint,
    load_model_config,
)
from plugin_server.engines.hunyuan.dac_vae import DacConfig, build_dac
from plugin_server.engines.hunyuan.layout import (
    CHECKSUMS_FILE,
    CLAP_DIR,
    SIGLIP_DIR,
    SYNCHFORMER_STEM,
    VAE_STEM,
    checkpoint_path,
    find_config_file,
    find_transformer_file,
)
from plugin_server.engines.hunyuan.manifest import (
    compare_state,
    module_manifest,
    transformer_manifest,
)
from plugin_server.engines.hunyuan.synchformer import (
    UNUSED_PREFIXES,
    MotionFormerConfig,
    build_synchformer,
)

_HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json")
_HASH_BLOCK = 16 * 1024 * 1024


@dataclass
class VerifyReport:
    """What `weights verify` found: `problems` (empty: all good) and what was checked."""

    root: Path
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    widths: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_weights_dir(root: Path, *, model_size: str | None = None) -> VerifyReport:
    """Check every part of the weights directory `root`; never raises for a bad directory."""
    report = VerifyReport(Path(root))
    if not report.root.is_dir():
        report.problems.append(f"{root}: not a directory")
        return report
    config = _guarded(report, "config", lambda: _check_config(report, model_size))
    _guarded(report, "transformer", lambda: _check_transformer(report, config, model_size))
    _guarded(report, "synchformer", lambda: _check_synchformer(report))
    _guarded(report, "vae", lambda: _check_vae(report))
    _guarded(report, SIGLIP_DIR, lambda: _check_hf_folder(report, SIGLIP_DIR, tokenizer=False))
    _guarded(report, CLAP_DIR, lambda: _check_hf_folder(report, CLAP_DIR, tokenizer=True))
    _check_widths(report)
    _check_checksums(report)
    return report


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(root: Path) -> Path:
    """Write `SHA256SUMS` (sha256sum format) over every file under `root` except itself."""
    lines = [
        f"{sha256_file(path)}  {path.relative_to(root).as_posix()}\n"
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != CHECKSUMS_FILE
    ]
    target = root / CHECKSUMS_FILE
    target.write_text("".join(lines), encoding="utf-8")
    return target


def _guarded(report: VerifyReport, part: str, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except (WeightsError, ModelConfigError, ValueError, OSError) as error:
        report.problems.append(f"{part}: {error}")
        return None


def _check_config(report: VerifyReport, model_size: str | None) -> ModelConfig:
    size, _ = find_transformer_file(report.root, model_size)
    path = find_config_file(report.root, size, None)
    config = load_model_config(path)
    report.checked.append(f"config {path.name}: {config.model_name or 'unnamed model'}")
    return config


def _check_transformer(
    report: VerifyReport, config: ModelConfig | None, model_size: str | None
) -> None:
    size, path = find_transformer_file(report.root, model_size)
    found = tensor_infos(path)
    if config is None:
        report.problems.append(f"transformer {path.name}: not checked without a valid config")
        return
    t = config.transformer
    check_against_checkpoint(t, {k: v.shape for k, v in found.items()}, path.name)
    problems = compare_state(transformer_manifest(t), found)
    report.problems.extend(f"transformer {path.name}: {problem}" for problem in problems)
    report.widths["transformer"] = {
        "clip_dim": t.clip_dim,
        "condition_dim": t.condition_dim,
        "sync_feat_dim": t.sync_feat_dim,
        "audio_vae_latent_dim": t.audio_vae_latent_dim,
    }
    report.checked.append(
        f"transformer {path.name} ({size}): {len(found)} tensors, "
        f"{sum(_numel(info) for info in found.values()):,} parameters, {_dtypes(found)}"
    )


def _check_synchformer(report: VerifyReport) -> None:
    path = _required(report.root, SYNCHFORMER_STEM)
    found = tensor_infos(path)
    shapes = {key: info.shape for key, info in found.items()}
    config = MotionFormerConfig.from_shapes(shapes, source=path.name)
    expected = module_manifest(build_synchformer(config, device="meta"))
    problems = compare_state(expected, found, allowed_extra_prefixes=UNUSED_PREFIXES)
    report.problems.extend(f"synchformer {path.name}: {problem}" for problem in problems)
    report.widths["synchformer"] = {"width": config.embed_dim}
    report.checked.append(f"synchformer {path.name}: visual branch width {config.embed_dim}")


def _check_vae(report: VerifyReport) -> None:
    path = _required(report.root, VAE_STEM)
    state, kwargs = load_vae_checkpoint(path)
    config = DacConfig.from_kwargs(kwargs, source=path.name)
    found = {key: TensorInfo(tuple(value.shape), value.dtype) for key, value in state.items()}
    problems = compare_state(module_manifest(build_dac(config, device="meta")), found)
    report.problems.extend(f"vae {path.name}: {problem}" for problem in problems)
    report.widths["vae"] = {"latent_channels": config.latent_channels}
    report.checked.append(
        f"vae {path.name}: {config.sample_rate} Hz, hop {config.hop_length}, "
        f"{config.latent_channels} latent channels"
    )


def _check_hf_folder(report: VerifyReport, name: str, *, tokenizer: bool) -> None:
    folder = report.root / name
    if not folder.is_dir():
        report.problems.append(f"{name}: folder {folder} is missing")
        return
    config_file = folder / "config.json"
    if not config_file.is_file():
        report.problems.append(f"{name}: {config_file} is missing")
        return
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if not any((folder / weights).is_file() for weights in _HF_WEIGHTS):
        report.problems.append(f"{name}: no weights file ({' or '.join(_HF_WEIGHTS)})")
    if tokenizer and not any((folder / tok).is_file() for tok in _TOKENIZER_FILES):
        report.problems.append(f"{name}: no tokenizer ({' or '.join(_TOKENIZER_FILES)})")
    if name == SIGLIP_DIR:
        width = (config.get("vision_config") or config).get("hidden_size")
        report.widths[name] = {"width": width}
    else:
        width = (config.get("text_config") or config).get("hidden_size")
        report.widths[name] = {"width": width}
    report.checked.append(f"{name}/: {config.get('model_type')} model, width {width}")


def _check_widths(report: VerifyReport) -> None:
    widths = report.widths
    transformer = widths.get("transformer")
    if transformer is None:
        return
    pairs = [
        ("clip_dim", SIGLIP_DIR, "width"),
        ("condition_dim", CLAP_DIR, "width"),
        ("sync_feat_dim", "synchformer", "width"),
        ("audio_vae_latent_dim", "vae", "latent_channels"),
    ]
    for name, part, key in pairs:
        theirs = widths.get(part, {}).get(key)
        if theirs is not None and theirs != transformer[name]:
            report.problems.append(
                f"widths: the transformer's {name} is {transformer[name]} but {part} gives {theirs}"
            )


def _check_checksums(report: VerifyReport) -> None:
    listing = report.root / CHECKSUMS_FILE
    if not listing.is_file():
        report.checked.append(f"checksums: no {CHECKSUMS_FILE} file, not checked")
        return
    count = 0
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        expected, _, name = line.partition("  ")
        path = report.root / name.strip()
        if not name or len(expected) != 64:
            report.problems.append(f"checksums: {CHECKSUMS_FILE} line {number} is malformed")
        elif not path.is_file():
            report.problems.append(f"checksums: {name} is listed but missing")
        elif sha256_file(path) != expected.lower():
            report.problems.append(f"checksums: {name} does not match its SHA-256")
        else:
            count += 1
    report.checked.append(f"checksums: {count} file(s) match {CHECKSUMS_FILE}")


def _required(root: Path, stem: str) -> Path:
    path = checkpoint_path(root, stem)
    if path is None:
        raise WeightsError(f"{stem}.pth (or .safetensors) is missing")
    return path


def _dtypes(found: dict[str, TensorInfo]) -> str:
    return "/".join(sorted({str(info.dtype).removeprefix("torch.") for info in found.values()}))


def _numel(info: TensorInfo) -> int:
    return int(torch.Size(info.shape).numel())

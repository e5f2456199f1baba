"""The weights directory a user points `--weights` at, laid out like the official release.

    DIR/
      hunyuanvideo_foley.pth        the XXL transformer (or hunyuanvideo_foley_xl.pth for XL;
                                    a .safetensors copy from `weights convert` works too)
      synchformer_state_dict.pth    Synchformer (only the visual branch is used)
      vae_128d_48k.pth              DAC-VAE: {"state_dict": ..., "metadata": {"kwargs": ...}}
      config.yaml                   the official model config format (any *.yaml here or in
                                    configs/ also works, e.g. hunyuanvideo-foley-xxl.yaml)
      siglip2/                      Hugging Face folder of google/siglip2-base-patch16-512
      clap/                         Hugging Face folder of laion/larger_clap_general
      SHA256SUMS                    optional, checked by `weights verify`

`locate_weights` finds every part once and raises `WeightsError` naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plugin_server.engines.hunyuan.checkpoint import PTH_SUFFIX, SAFETENSORS_SUFFIX, WeightsError

TRANSFORMER_STEMS = {"xxl": "hunyuanvideo_foley", "xl": "hunyuanvideo_foley_xl"}
SYNCHFORMER_STEM = "synchformer_state_dict"
VAE_STEM = "vae_128d_48k"
SIGLIP_DIR = "siglip2"
CLAP_DIR = "clap"
CHECKSUMS_FILE = "SHA256SUMS"
CONFIG_NAMES = ("config.yaml", "hunyuanvideo-foley-{size}.yaml")

LAYOUT_HELP = (
    "expected hunyuanvideo_foley.pth (or hunyuanvideo_foley_xl.pth), synchformer_state_dict.pth, "
    "vae_128d_48k.pth, a config YAML in the official format, and the siglip2/ and clap/ "
    "Hugging Face folders (see docs/hunyuan.md)"
)


@dataclass(frozen=True)
class WeightsLayout:
    """Resolved paths of every part of a weights directory."""

    root: Path
    model_size: str
    transformer: Path
    config: Path
    synchformer: Path
    vae: Path
    siglip2: Path
    clap: Path

    @property
    def checksums(self) -> Path:
        return self.root / CHECKSUMS_FILE


def locate_weights(
    root: Path,
    *,
    model_size: str | None = None,
    config: Path | None = None,
    siglip2: Path | None = None,
    clap: Path | None = None,
) -> WeightsLayout:
    """Find each part of the weights directory `root`.

    `model_size` ("xxl" or "xl") picks the transformer when both are present (XXL by default,
    as the official loader). `config`, `siglip2` and `clap` override the in-directory paths.
    """
    root = Path(root)
    if not root.is_dir():
        raise WeightsError(f"weights directory {root} does not exist; {LAYOUT_HELP}")
    size, transformer = find_transformer_file(root, model_size)
    return WeightsLayout(
        root=root,
        model_size=size,
        transformer=transformer,
        config=find_config_file(root, size, config),
        synchformer=_checkpoint_file(root, SYNCHFORMER_STEM, "the Synchformer visual encoder"),
        vae=_checkpoint_file(root, VAE_STEM, "the DAC-VAE audio decoder"),
        siglip2=_model_folder(
            root, SIGLIP_DIR, siglip2, "SigLIP2 (google/siglip2-base-patch16-512)"
        ),
        clap=_model_folder(root, CLAP_DIR, clap, "CLAP (laion/larger_clap_general)"),
    )


def checkpoint_path(root: Path, stem: str) -> Path | None:
    """`stem`.safetensors if present (a converted copy), else `stem`.pth, else None."""
    for suffix in (SAFETENSORS_SUFFIX, PTH_SUFFIX):
        candidate = root / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def find_transformer_file(root: Path, model_size: str | None) -> tuple[str, Path]:
    """(size, path) of the transformer checkpoint; XXL when both are present and no size given."""
    if model_size is not None and model_size not in TRANSFORMER_STEMS:
        raise WeightsError(
            f"model size {model_size!r} is not one of {', '.join(TRANSFORMER_STEMS)}"
        )
    found = {
        size: path
        for size, stem in TRANSFORMER_STEMS.items()
        if (path := checkpoint_path(root, stem)) is not None
    }
    if model_size is not None:
        if model_size not in found:
            raise WeightsError(
                f"weights directory {root} has no {TRANSFORMER_STEMS[model_size]}.pth "
                f"(the {model_size.upper()} transformer); {LAYOUT_HELP}"
            )
        return model_size, found[model_size]
    if not found:
        raise WeightsError(
            f"weights directory {root} has no transformer checkpoint "
            f"(hunyuanvideo_foley.pth or hunyuanvideo_foley_xl.pth); {LAYOUT_HELP}"
        )
    size = "xxl" if "xxl" in found else "xl"
    return size, found[size]


def find_config_file(root: Path, size: str, explicit: Path | None) -> Path:
    """The model config YAML: `explicit`, else config.yaml or the official name, else the only
    YAML in the directory or its configs/ folder."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise WeightsError(f"model config {explicit} does not exist")
        return Path(explicit)
    for folder in (root, root / "configs"):
        for name in CONFIG_NAMES:
            candidate = folder / name.format(size=size)
            if candidate.is_file():
                return candidate
    candidates = sorted(
        path for folder in (root, root / "configs") for path in folder.glob("*.y*ml")
    )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise WeightsError(
            f"weights directory {root} has no model config YAML: add config.yaml (the official "
            f"configs/hunyuanvideo-foley-{size}.yaml format)"
        )
    names = ", ".join(path.name for path in candidates)
    raise WeightsError(
        f"weights directory {root} has several YAML files ({names}); "
        f"name the model config config.yaml or hunyuanvideo-foley-{size}.yaml"
    )


def _checkpoint_file(root: Path, stem: str, what: str) -> Path:
    path = checkpoint_path(root, stem)
    if path is None:
        raise WeightsError(
            f"weights directory {root} is missing {stem}.pth ({what}); {LAYOUT_HELP}"
        )
    return path


def _model_folder(root: Path, name: str, explicit: Path | None, what: str) -> Path:
    folder = Path(explicit) if explicit is not None else root / name
    if not folder.is_dir():
        raise WeightsError(
            f"{what} folder {folder} does not exist: put the Hugging Face folder at "
            f"{root / name} or give its path; nothing is downloaded"
        )
    if not (folder / "config.json").is_file():
        raise WeightsError(
            f"{what} folder {folder} has no config.json; is it a save_pretrained folder?"
        )
    return folder

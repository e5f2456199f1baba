"""Command-line options shared by `serve` and `generate`: engine, settings and media relinking.

Not a command itself (the leading underscore keeps it out of the command list).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from plugin_server.engines.registry import DEFAULT_ENGINE, engine_names


class OptionError(ValueError):
    """A command-line value is unusable; the message names the option."""


@dataclass(frozen=True)
class EngineChoice:
    """The engine, preset and overrides chosen on the command line."""

    engine: str
    preset: str
    device: str
    weights_dir: Path | None
    parameters: dict[str, Any]
    engine_options: dict[str, Any]
    seed: int | None


def add_engine_arguments(parser: argparse.ArgumentParser, *, default_preset: str) -> None:
    group = parser.add_argument_group("engine and settings")
    group.add_argument(
        "--engine",
        default=DEFAULT_ENGINE,
        choices=engine_names(),
        help=f"Foley engine (default {DEFAULT_ENGINE}: DSP, no weights)",
    )
    group.add_argument(
        "--preset",
        default=default_preset,
        help="preset name (default, light, extreme, reference, auto) or a .yaml preset file "
        f"(default {default_preset})",
    )
    group.add_argument(
        "--weights", type=Path, metavar="DIR", help="model weights directory (hunyuan engine)"
    )
    group.add_argument(
        "--device",
        default="auto",
        help="auto (GPU if present), cpu, cuda or cuda:N (default auto)",
    )
    group.add_argument(
        "--steps", type=int, metavar="N", help="sampler steps (overrides the preset's)"
    )
    group.add_argument(
        "--guidance", type=float, metavar="G", help="guidance scale (overrides the preset's)"
    )
    group.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any preset parameter, e.g. --param frame_sampling_rate=4 (repeatable)",
    )
    group.add_argument("--seed", type=int, help="generation seed (default 0)")
    group.add_argument(
        "--initial-noise",
        type=Path,
        metavar="FILE",
        help="start the sampler from this noise tensor file (reference comparisons)",
    )
    group.add_argument(
        "--reference-sampling",
        action="store_true",
        help="sample exactly as the model authors' reference code does",
    )
    group.add_argument(
        "--lora-dir",
        type=Path,
        metavar="DIR",
        help="folder of LoRA adapters (one folder each, from `finetune`) clips may ask for",
    )
    group.add_argument(
        "--lora", metavar="NAME", help="apply this adapter of --lora-dir (the `lora` parameter)"
    )
    group.add_argument(
        "--library",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a sound-effects library folder, under a --media-root, for the library engine "
        "(repeatable)",
    )
    group.add_argument(
        "--library-clap",
        type=Path,
        metavar="DIR",
        help="rank library files by CLAP text-to-audio similarity with this two-tower CLAP "
        "folder (e.g. laion/larger_clap_general), or a hunyuan weights folder holding one in "
        "clap/",
    )


def add_media_arguments(parser: argparse.ArgumentParser, *, root_help: str) -> None:
    group = parser.add_argument_group("media")
    group.add_argument(
        "--media-root", action="append", default=[], type=Path, metavar="DIR", help=root_help
    )
    group.add_argument(
        "--media-map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="replace the path prefix OLD written in timelines by NEW (repeatable)",
    )


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """What to generate (prompt, tracks, handles) and how the audio files are written; shared
    by `generate` and `watch`."""
    prompts = parser.add_argument_group("what to generate")
    prompts.add_argument("--prompt", default="", help="prompt for every clip")
    prompts.add_argument("--negative-prompt", default="", help="what to avoid")
    prompts.add_argument(
        "--track", action="append", default=[], help="video track to spot: V1, 1 or a name"
    )
    prompts.add_argument("--handles", type=int, default=0, help="extra frames of audio each side")
    audio = parser.add_argument_group("audio files")
    audio.add_argument("--container", choices=("wav", "flac"), default="wav")
    audio.add_argument("--sample-format", choices=("pcm24", "float32"), default="pcm24")
    audio.add_argument("--channels", type=int, choices=(1, 2), default=1)
    audio.add_argument("--loudness", type=float, metavar="LUFS", help="normalise to this loudness")


def generation_request(
    args: argparse.Namespace,
    choice: EngineChoice,
    *,
    use_cache: bool,
    result_format: str | None = None,
) -> Any:
    """The pipeline's GenerationRequest from the options add_generation_arguments added."""
    from plugin_server.pipeline.request import AudioSpec, GenerationRequest

    return GenerationRequest(
        engine=choice.engine,
        preset=choice.preset,
        parameters=choice.parameters,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        seed=choice.seed,
        tracks=tuple(args.track),
        handles_frames=args.handles,
        audio=AudioSpec(
            container=args.container,
            sample_format=args.sample_format,
            channels=args.channels,
            loudness_target_lufs=args.loudness,
        ),
        result_format=result_format,
        use_cache=use_cache,
    )


def engine_choice(args: argparse.Namespace) -> EngineChoice:
    """Validate the engine options of `args`; raises OptionError."""
    from plugin_server.presets import PresetError, is_auto, load_preset

    parameters: dict[str, Any] = {}
    for text in args.param:
        key, separator, value = text.partition("=")
        if not separator or not key.strip():
            raise OptionError(f"--param {text!r} is not KEY=VALUE")
        parameters[key.strip()] = yaml.safe_load(value) if value.strip() else None
    if args.steps is not None:
        parameters["diffusion_timesteps"] = args.steps
    if args.guidance is not None:
        parameters["guidance_scale"] = args.guidance
    if args.lora is not None:
        parameters["lora"] = args.lora
    try:
        if not is_auto(args.preset):
            load_preset(args.preset).settings.with_overrides(parameters, "command line")
    except PresetError as error:
        raise OptionError(str(error)) from error
    engine_options: dict[str, Any] = {}
    if args.initial_noise is not None:
        if not args.initial_noise.is_file():
            raise OptionError(f"--initial-noise {args.initial_noise} is not a file")
        engine_options["initial_noise"] = args.initial_noise.resolve()
    if args.reference_sampling:
        engine_options["reference_sampling"] = True
    if args.lora_dir is not None:
        if not args.lora_dir.is_dir():
            raise OptionError(f"--lora-dir {args.lora_dir} is not a directory")
        engine_options["lora_dir"] = args.lora_dir.resolve()
    if args.library:
        engine_options.update(_library_options(args))
    elif getattr(args, "library_clap", None) is not None:
        raise OptionError("--library-clap ranks library files: it needs --library DIR")
    if args.weights is not None and not args.weights.is_dir():
        raise OptionError(f"--weights {args.weights} is not a directory")
    preset = args.preset
    if not is_auto(preset) and Path(preset).suffix.lower() in (".yaml", ".yml"):
        preset = str(Path(preset).resolve())
    return EngineChoice(
        engine=args.engine,
        preset=preset,
        device=args.device,
        weights_dir=args.weights.resolve() if args.weights else None,
        parameters=parameters,
        engine_options=engine_options,
        seed=args.seed,
    )


def _library_options(args: argparse.Namespace) -> dict[str, Any]:
    """The library engine's folders, each checked to lie under a --media-root, and its index
    under the work dir (serve) or the cache dir (generate); see docs/library.md."""
    roots = [root.resolve() for root in getattr(args, "media_root", [])]
    folders = []
    for folder in args.library:
        if not folder.is_dir():
            raise OptionError(f"--library {folder} is not a directory")
        resolved = folder.resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise OptionError(
                f"--library {folder} is outside every --media-root; libraries are read only "
                "under the media roots: add a --media-root that holds it"
            )
        folders.append(resolved)
    options: dict[str, Any] = {"library_dirs": tuple(folders)}
    if getattr(args, "library_clap", None) is not None:
        from plugin_server.engines.library.clap import ClapFolderError, clap_folder

        try:
            options["library_clap"] = clap_folder(args.library_clap)
        except ClapFolderError as error:
            raise OptionError(f"--library-clap: {error}") from error
    work_dir = getattr(args, "work_dir", None) or getattr(args, "cache_dir", None)
    if work_dir is not None:
        options["library_index"] = work_dir.resolve() / "library" / "index.sqlite"
    return options


def media_maps(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    from timeline.errors import TimelineError
    from timeline.relink import parse_prefix_map

    try:
        return tuple(parse_prefix_map(text) for text in args.media_map)
    except TimelineError as error:
        raise OptionError(f"--media-map: {error}") from error


def media_roots(args: argparse.Namespace) -> tuple[Path, ...]:
    roots = []
    for root in args.media_root:
        if not root.is_dir():
            raise OptionError(f"--media-root {root} is not a directory")
        roots.append(root.resolve())
    return tuple(roots)

"""`foley-server finetune DATA --weights DIR --out LORA_DIR`: train a LoRA adapter on a studio's
own Foley (docs/finetune.md).

DATA is a folder of videos with audio files of the same name, or timeline files whose picture
clips have Foley clips under them on audio tracks (several may be given). The adapter folder
(`LORA_DIR`) can be put in a server's `--lora-dir` and asked for by its folder name.

Exit status: 0 trained; 2 unusable options, weights, data or checkpoint (nothing was trained);
1 training failed (the last checkpoint is kept); 130 interrupted (a checkpoint was written).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from plugin_server.commands._options import OptionError, add_media_arguments, media_maps

log = logging.getLogger(__name__)

PRECISION_CHOICES = ("fp32", "bf16", "fp16")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        type=Path,
        nargs="+",
        metavar="DATA",
        help="a folder of videos with same-named audio files, or timeline files (repeatable)",
    )
    parser.add_argument(
        "--weights", type=Path, required=True, metavar="DIR", help="model weights directory"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="LORA_DIR", help="adapter folder to write"
    )
    lora = parser.add_argument_group("LoRA and optimiser")
    lora.add_argument("--rank", type=int, default=16, metavar="R", help="LoRA rank (default 16)")
    lora.add_argument(
        "--alpha", type=float, metavar="A", help="LoRA scale: updates are x alpha/rank (default R)"
    )
    lora.add_argument(
        "--lora-dropout", type=float, default=0.0, metavar="P", help="dropout on LoRA inputs"
    )
    lora.add_argument(
        "--lr", type=float, default=1e-4, metavar="LR", help="learning rate (default 1e-4)"
    )
    lora.add_argument("--steps", type=int, default=1000, metavar="N", help="steps (default 1000)")
    lora.add_argument(
        "--batch-size", type=int, default=1, metavar="B", help="windows per step (default 1)"
    )
    lora.add_argument(
        "--window",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="training window length, shortened to the shortest pair (default 8)",
    )
    lora.add_argument(
        "--condition-dropout",
        type=float,
        default=0.1,
        metavar="P",
        help="share of windows trained without picture and prompt, for guidance (default 0.1)",
    )
    lora.add_argument("--seed", type=int, default=0, help="seed of the whole run (default 0)")
    memory = parser.add_argument_group("memory and speed")
    memory.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="recompute transformer blocks in the backward pass: less memory, more time "
        "(default: the preset's enable_gradient_checkpointing, else off)",
    )
    memory.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        help="compute precision (default: the preset's, else bf16 on a GPU and fp32 on a CPU)",
    )
    memory.add_argument(
        "--preset", help="take gradient checkpointing and precision from this preset"
    )
    memory.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    memory.add_argument("--model-size", choices=("xxl", "xl"), help="which transformer of DIR")
    run = parser.add_argument_group("run")
    run.add_argument("--resume", type=Path, metavar="CKPT", help="continue from this checkpoint")
    run.add_argument(
        "--save-every", type=int, default=0, metavar="N", help="checkpoint every N steps"
    )
    run.add_argument(
        "--cache-dir", type=Path, help="feature cache (default LORA_DIR/feature_cache)"
    )
    data = parser.add_argument_group("data")
    data.add_argument("--prompt", default="", help="prompt of pairs that have none of their own")
    data.add_argument(
        "--audio-track",
        action="append",
        default=[],
        metavar="TRACK",
        help="timeline audio track with the Foley: A2, 2 or its name (repeatable; default all "
        "but this server's own Foley tracks)",
    )
    data.add_argument(
        "--skip-bad-pairs",
        action="store_true",
        help="leave out pairs with problems instead of stopping (they are listed)",
    )
    add_media_arguments(parser, root_help="folder searched for timeline media by base name")


def run(args: argparse.Namespace) -> int:
    from plugin_server.engines.base import EngineError
    from plugin_server.finetune.errors import FinetuneError, TrainingDiverged
    from timeline.errors import TimelineError

    try:
        job = _job(args)
    except OptionError as error:
        print(f"foley-server finetune: {error}", file=sys.stderr)
        return 2
    from plugin_server.finetune.session import run_finetune

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        result = run_finetune(job, say=say)
    except KeyboardInterrupt:
        print(
            f"\nfoley-server finetune: interrupted; resume with --resume from "
            f"{job.out / 'checkpoints'}",
            file=sys.stderr,
        )
        return 130
    except TrainingDiverged as error:
        print(f"foley-server finetune: {error}", file=sys.stderr)
        return 1
    except (FinetuneError, EngineError, TimelineError) as error:
        print(f"foley-server finetune: {error}", file=sys.stderr)
        return 2
    training = result.training
    print(f"adapter:     {result.adapter}")
    print(
        f"trained:     {training.step} steps on {len(result.dataset.pairs)} pairs "
        f"({result.window_s:.2f} s windows) in {result.elapsed_s:.1f} s"
    )
    if training.losses:
        first = training.losses[: max(1, len(training.losses) // 10)]
        last = training.losses[-max(1, len(training.losses) // 10) :]
        print(
            f"loss:        {sum(first) / len(first):.4f} (first steps) -> "
            f"{sum(last) / len(last):.4f} (last steps)"
        )
    print(f"peak memory: {training.peak_memory_bytes / 2**20:.0f} MiB")
    print(f"checkpoint:  {training.checkpoints[-1]}")
    return 0


def _job(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The validated FinetuneJob of the command line; raises OptionError."""
    from plugin_server.finetune.lora import LoraSpec
    from plugin_server.finetune.session import FinetuneJob
    from plugin_server.finetune.trainer import TrainingSettings
    from timeline.records import MediaMap

    positive = {
        "--rank": args.rank,
        "--lr": args.lr,
        "--steps": args.steps,
        "--batch-size": args.batch_size,
        "--window": args.window,
    }
    for option, value in positive.items():
        if not value > 0:
            raise OptionError(f"{option} must be greater than 0, got {value}")
    if args.alpha is not None and not args.alpha > 0:
        raise OptionError(f"--alpha must be greater than 0, got {args.alpha}")
    for option, value in (
        ("--condition-dropout", args.condition_dropout),
        ("--lora-dropout", args.lora_dropout),
    ):
        if not 0 <= value < 1:
            raise OptionError(f"{option} must be in [0, 1), got {value}")
    if args.save_every < 0:
        raise OptionError(f"--save-every must be 0 or more, got {args.save_every}")
    if not args.weights.is_dir():
        raise OptionError(f"--weights {args.weights} is not a directory")
    if args.resume is not None and not args.resume.is_file():
        raise OptionError(f"--resume {args.resume} is not a file")
    roots = []
    for root in args.media_root:
        if not root.is_dir():
            raise OptionError(f"--media-root {root} is not a directory")
        roots.append(root.resolve())
    checkpointing, precision = _memory_choices(args)
    settings = TrainingSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        lora=LoraSpec(
            rank=args.rank,
            alpha=float(args.alpha if args.alpha is not None else args.rank),
            dropout=args.lora_dropout,
        ),
        window_s=args.window,
        seed=args.seed,
        condition_dropout=args.condition_dropout,
        gradient_checkpointing=checkpointing,
        precision=precision,
        save_every=args.save_every,
    )
    return FinetuneJob(
        data=tuple(path.resolve() for path in args.data),
        weights_dir=args.weights.resolve(),
        out=args.out.resolve(),
        settings=settings,
        device=args.device,
        model_size=args.model_size,
        media_map=MediaMap(prefix_maps=media_maps(args), search_roots=tuple(roots)),
        audio_tracks=tuple(args.audio_track),
        prompt=args.prompt,
        cache_dir=args.cache_dir.resolve() if args.cache_dir else None,
        resume=args.resume.resolve() if args.resume else None,
        skip_bad_pairs=args.skip_bad_pairs,
    )


def _memory_choices(args: argparse.Namespace) -> tuple[bool, str]:
    """Gradient checkpointing and precision: the flags, else the preset's, else defaults."""
    checkpointing, precision = args.gradient_checkpointing, args.precision
    if args.preset is not None:
        from plugin_server.presets import PresetError, load_preset

        try:
            preset = load_preset(args.preset).settings
        except PresetError as error:
            raise OptionError(f"--preset: {error}") from error
        if checkpointing is None and preset.enable_gradient_checkpointing is not None:
            checkpointing = preset.enable_gradient_checkpointing
        if precision is None:
            if preset.use_half_precision:
                precision = "bf16" if preset.half_precision_dtype == "bfloat16" else "fp16"
            else:
                precision = "fp32"
    if precision is None:
        precision = "bf16" if _cuda_requested(args.device) else "fp32"
    return bool(checkpointing), precision


def _cuda_requested(device: str) -> bool:
    if device.startswith("cuda"):
        return True
    if device not in ("auto", ""):
        return False
    import torch

    return torch.cuda.is_available()
